//! The boards compiled into host-edge, and finding one by name, by file or
//! from the running board's device tree.

use std::path::Path;

use crate::{Board, BoardError};

/// The definitions in `boards/`, as (file name, text).
const DEFINITIONS: &[(&str, &str)] = &[
    ("pi-zero-w.toml", include_str!("../pi-zero-w.toml")),
    ("pi-zero-2-w.toml", include_str!("../pi-zero-2-w.toml")),
    ("pi-3b.toml", include_str!("../pi-3b.toml")),
    ("pi-3b-plus.toml", include_str!("../pi-3b-plus.toml")),
    ("pi-4b.toml", include_str!("../pi-4b.toml")),
    ("pi-5.toml", include_str!("../pi-5.toml")),
    ("sim.toml", include_str!("../sim.toml")),
];

/// Every built-in board, in the order of [`DEFINITIONS`].
pub fn builtin() -> Vec<Board> {
    DEFINITIONS
        .iter()
        .map(|(file, text)| Board::parse(text, file).expect("the built-in board definitions are checked by tests"))
        .collect()
}

/// The board `name` names: a built-in board's name, or the path of a
/// definition file (anything with a `/` or ending in `.toml`).
pub fn find(name: &str) -> Result<Board, BoardError> {
    if name.contains('/') || name.ends_with(".toml") {
        return load(Path::new(name));
    }
    let boards = builtin();
    if let Some(board) = boards.iter().find(|b| b.name == name) {
        return Ok(board.clone());
    }
    let names: Vec<&str> = boards.iter().map(|b| b.name.as_str()).collect();
    Err(BoardError::Unknown {
        name: name.to_owned(),
        hint: provider_abi::suggest::did_you_mean(name, names.iter().copied()),
        known: names.join(", "),
    })
}

/// Reads a definition from a file.
pub fn load(path: &Path) -> Result<Board, BoardError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| BoardError::Io { path: path.display().to_string(), message: e.to_string() })?;
    Board::parse(&text, &path.display().to_string())
}

/// The built-in board the device tree describes: the one whose
/// `compatible` entry is in `compatible` (the NUL-separated list of
/// `/proc/device-tree/compatible`), or else the one whose `model` the
/// `model` string starts with (the longest match wins). The Pi firmware
/// writes the revision into the model (`Raspberry Pi 3 Model B Rev 1.2`)
/// and mainline trees do not, so `compatible` decides where present.
pub fn detect(model: Option<&str>, compatible: Option<&str>) -> Option<Board> {
    let boards = builtin();
    let entries: Vec<&str> = compatible.map(|c| c.split(['\0', '\n']).filter(|e| !e.is_empty()).collect()).unwrap_or_default();
    if let Some(board) = boards.iter().find(|b| b.compatible.as_deref().is_some_and(|c| entries.contains(&c))) {
        return Some(board.clone());
    }
    let model = model?.trim_end_matches(['\0', '\n']);
    boards
        .into_iter()
        .filter(|b| b.model.as_deref().is_some_and(|m| model.starts_with(m)))
        .max_by_key(|b| b.model.as_ref().map_or(0, String::len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Backend;

    #[test]
    fn every_built_in_board_parses_and_has_the_forty_pin_header() {
        let boards = builtin();
        let names: Vec<&str> = boards.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["pi-zero-w", "pi-zero-2-w", "pi-3b", "pi-3b-plus", "pi-4b", "pi-5", "sim"]);
        for board in &boards {
            assert_eq!(board.header.len(), 40, "{}", board.name);
            assert_eq!(board.gpios().len(), 28, "{}: GPIO 0-27", board.name);
            assert_eq!(board.header[10].bcm, Some(17), "{}: header pin 11 is GPIO 17", board.name);
            assert!(board.reserved(0).is_some() && board.reserved(14).is_some(), "{}", board.name);
        }
        assert_eq!(boards.last().unwrap().backend, Backend::Sim);
    }

    #[test]
    fn the_model_string_finds_the_board_and_b_plus_is_not_b() {
        let detect_name = |model: &str| detect(Some(model), None).map(|b| b.name);
        assert_eq!(detect_name("Raspberry Pi 3 Model B Rev 1.2\0").as_deref(), Some("pi-3b"));
        assert_eq!(detect_name("Raspberry Pi 3 Model B Plus Rev 1.3\0").as_deref(), Some("pi-3b-plus"));
        assert_eq!(detect_name("Raspberry Pi Zero W Rev 1.1").as_deref(), Some("pi-zero-w"));
        assert_eq!(detect_name("Raspberry Pi Zero 2 W Rev 1.0").as_deref(), Some("pi-zero-2-w"));
        assert_eq!(detect_name("Raspberry Pi 4 Model B Rev 1.4").as_deref(), Some("pi-4b"));
        assert_eq!(detect_name("Raspberry Pi 5 Model B Rev 1.0").as_deref(), Some("pi-5"));
        assert_eq!(detect_name("BeagleBone Black"), None);
    }

    #[test]
    fn the_compatible_list_finds_the_board_where_a_mainline_model_has_no_revision() {
        let detect_with = |model: &str, compatible: &str| detect(Some(model), Some(compatible)).map(|b| b.name);
        let mainline_3b = detect_with("Raspberry Pi 3 Model B\0", "raspberrypi,3-model-b\0brcm,bcm2837\0");
        assert_eq!(mainline_3b.as_deref(), Some("pi-3b"));
        let mainline_3b_plus = detect_with("Raspberry Pi 3 Model B+\0", "raspberrypi,3-model-b-plus\0brcm,bcm2837\0");
        assert_eq!(mainline_3b_plus.as_deref(), Some("pi-3b-plus"));
        assert_eq!(detect_with("x", "raspberrypi,model-zero-w\0brcm,bcm2835\0").as_deref(), Some("pi-zero-w"));
        assert_eq!(detect(None, Some("brcm,bcm2711\0")).map(|b| b.name), None, "a SoC alone is not a board");
    }

    #[test]
    fn an_unknown_board_name_suggests_the_closest_and_lists_all() {
        let err = find("pi-4").unwrap_err().to_string();
        assert!(err.contains("no board named `pi-4`") && err.contains("(did you mean `pi-4b`?)"), "{err}");
        assert!(err.contains("sim"), "{err}");
    }

    #[test]
    fn a_board_can_come_from_a_file_of_its_own() {
        let dir = std::env::temp_dir().join(format!("boards-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("mine.toml");
        std::fs::write(&path, include_str!("../sim.toml").replace("name = \"sim\"", "name = \"mine\"")).unwrap();
        assert_eq!(find(path.to_str().unwrap()).unwrap().name, "mine");
        let err = find(dir.join("missing.toml").to_str().unwrap()).unwrap_err().to_string();
        assert!(err.contains("missing.toml"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
