//! Properties of the control socket's parser over generated input: lines
//! that read back as what was sent, and none over the limit. The
//! `control_line` fuzz target in fuzz/ checks the same on arbitrary bytes.

use std::path::PathBuf;

use host_edge::control::{Request, Response};
use host_edge::fuzzing::{read_control_lines, ControlLine};
use host_edge_runtime::Command;
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
}
