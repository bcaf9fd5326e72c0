//! Properties of the host's parsers of outside input over generated
//! input: control socket lines, fleet placeholders, manifests. The
//! `control_line`, `deployment`, `fleet_command`, `manifest_toml` and
//! `wascc_manifest` fuzz targets in fuzz/ check the same on arbitrary
//! bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use host_edge::control::{Request, Response};
use host_edge::fleet::deployment::expand;
use host_edge::fuzzing::{read_control_lines, ControlLine};
use host_edge::{Command, Manifest};
use proptest::prelude::*;

fn command() -> impl Strategy<Value = Command> {
    let text = ".{0,20}";
    let values = proptest::collection::btree_map(text, text, 0..3);
    prop_oneof![
        text.prop_map(|actor| Command::StopActor { actor }),
        text.prop_map(|name| Command::RemoveProvider { name }),
        (text, text, values).prop_map(|(name, path, settings)| Command::AddProvider { name, path: PathBuf::from(path), settings }),
        (text, any::<bool>(), proptest::option::of(1usize..300)).prop_map(|(path, force, instances)| Command::ReplaceActor {
            path: PathBuf::from(path),
            force,
            instances,
            limits: None,
        }),
    ]
}

proptest! {
    #[test]
    fn a_control_request_is_one_line_that_reads_back_as_itself(command in command()) {
        let request = Request::Execute { command };
        let line = request.to_line().unwrap();
        prop_assert_eq!(line.matches('\n').count(), 1);
        prop_assert!(line.ends_with('\n'));
        prop_assert_eq!(Request::from_line(line.trim_end_matches('\n').as_bytes()).unwrap(), request);
    }

    #[test]
    fn a_control_response_is_one_line_that_reads_back_as_itself(text in ".{0,60}", done in any::<bool>()) {
        let response = if done { Response::Done(text) } else { Response::Error(text) };
        let line = response.to_line().unwrap();
        prop_assert_eq!(line.matches('\n').count(), 1);
        prop_assert_eq!(Response::from_line(line.trim_end_matches('\n').as_bytes()).unwrap(), response);
    }

    #[test]
    fn the_control_reader_gives_back_the_lines_sent_and_never_one_over_the_limit(
        lines in proptest::collection::vec("[^\n]{0,40}", 0..6), capacity in 1usize..64, max in 1usize..48,
    ) {
        let stream: String = lines.iter().map(|line| format!("{line}\n")).collect();
        let read = read_control_lines(stream.as_bytes(), max, capacity);
        for (got, sent) in read.iter().zip(&lines) {
            match got {
                ControlLine::Line(line) => prop_assert_eq!(line.as_slice(), sent.as_bytes()),
                ControlLine::TooLong => prop_assert!(sent.len() > max),
            }
        }
        let first_too_long = lines.iter().position(|line| line.len() > max);
        prop_assert_eq!(read.len(), first_too_long.map_or(lines.len(), |at| at + 1));
    }

    #[test]
    fn placeholders_take_the_devices_values_and_other_text_stays(
        plain in "[^$]{0,30}", name in "[A-Z_]{1,10}", value in ".{0,20}", tail in "[^$]{0,30}",
    ) {
        let vars = BTreeMap::from([(name.clone(), value.clone())]);
        prop_assert_eq!(expand(&plain, &vars).unwrap(), plain.clone());
        let placeholder = format!("{plain}${{{name}}}{tail}");
        prop_assert_eq!(expand(&placeholder, &vars).unwrap(), format!("{plain}{value}{tail}"));
        let dollars = format!("{plain}$${tail}");
        prop_assert_eq!(expand(&dollars, &vars).unwrap(), format!("{plain}${tail}"));
        let missing = format!("{plain}${{{name}_MISSING}}");
        let refused = expand(&missing, &vars).unwrap_err();
        prop_assert!(refused.contains("has no value on this device"), "{}", refused);
    }

    #[test]
    fn any_text_is_read_as_a_manifest_or_refused_with_a_reason(text in "(\\[\\[?[a-z]{0,8}\\]\\]?\n|[a-z_]{1,10} = (\"[^\"\n]{0,10}\"|[0-9]{1,20}|\\[\\])\n){0,8}") {
        match Manifest::parse(&text, Path::new("/opt/host-edge")) {
            Ok(manifest) => prop_assert_eq!(manifest.commands().len(), manifest.actors.len() + manifest.providers.len() + manifest.links.len()),
            Err(reason) => prop_assert!(!reason.is_empty()),
        }
    }
}
