//! Who holds which pin, in which mode: the provider's state, apart from the
//! board it drives. Each change is planned first ([`Pins::plan_open`]),
//! carried out on the board, and only then recorded, so a board that
//! refuses leaves the table as it was.
//!
//! The rules: an output or PWM pin has exactly one holder; an input may be
//! shared by actors that want the same pull; an actor may reopen its own
//! pin in another mode.

use std::collections::{BTreeMap, BTreeSet};

use provider_sdk::codec::gpio::Pull;

/// What a pin is open as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// An input with its pull.
    Input(Pull),
    /// A plain output.
    Output,
    /// A PWM output.
    Pwm,
}

impl Mode {
    /// `input`, `output`, `PWM output`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Input(_) => "input",
            Mode::Output => "output",
            Mode::Pwm => "PWM output",
        }
    }

    /// The grant rule kind that permits the mode: `in`, `out`, `pwm`.
    pub(crate) fn grant_kind(self) -> &'static str {
        match self {
            Mode::Input(_) => "in",
            Mode::Output => "out",
            Mode::Pwm => "pwm",
        }
    }

    /// Whether the pin drives the line.
    pub(crate) fn drives(self) -> bool {
        !matches!(self, Mode::Input(_))
    }
}

/// What opening a pin takes on the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opening {
    /// Nobody holds it: configure it.
    Fresh,
    /// The actor holds it alone in another mode: configure it anew.
    Reconfigure,
    /// Others hold it as an input with the same pull: join them.
    Shared,
    /// The actor already holds it in this mode.
    Same,
}

/// Why a pin cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Conflict {
    /// Another holder.
    pub(crate) holder: String,
    /// The mode they hold it in.
    pub(crate) mode: Mode,
}

/// What letting go of a pin leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Released {
    /// The mode it was held in.
    pub(crate) mode: Mode,
    /// Whether that was the last holder, so the board must release it.
    pub(crate) last: bool,
}

#[derive(Debug, Clone)]
struct Holding {
    mode: Mode,
    holders: BTreeSet<String>,
}

/// The table of held pins.
#[derive(Debug, Default)]
pub(crate) struct Pins {
    held: BTreeMap<u8, Holding>,
}

impl Pins {
    /// What `actor` opening `pin` as `mode` would take, or who is in the way.
    pub(crate) fn plan_open(&self, actor: &str, pin: u8, mode: Mode) -> Result<Opening, Conflict> {
        let Some(holding) = self.held.get(&pin) else { return Ok(Opening::Fresh) };
        let others = holding.holders.iter().find(|h| *h != actor);
        let mine = holding.holders.contains(actor);
        match (others, mine) {
            (None, _) if holding.mode == mode => Ok(Opening::Same),
            (None, _) => Ok(Opening::Reconfigure),
            (Some(_), true) if holding.mode == mode => Ok(Opening::Same),
            (Some(_), false) if holding.mode == mode && !mode.drives() => Ok(Opening::Shared),
            (Some(other), _) => Err(Conflict { holder: other.clone(), mode: holding.mode }),
        }
    }

    /// Records that `actor` holds `pin` as `mode` (after [`Pins::plan_open`]
    /// and the board agreed).
    pub(crate) fn commit_open(&mut self, actor: &str, pin: u8, mode: Mode) {
        let holding = self.held.entry(pin).or_insert_with(|| Holding { mode, holders: BTreeSet::new() });
        holding.mode = mode;
        holding.holders.insert(actor.to_owned());
    }

    /// The mode `actor` holds `pin` in, if it holds it.
    pub(crate) fn mode_of(&self, actor: &str, pin: u8) -> Option<Mode> {
        self.held.get(&pin).filter(|h| h.holders.contains(actor)).map(|h| h.mode)
    }

    /// `actor` lets go of `pin`; `None` when it did not hold it.
    pub(crate) fn release(&mut self, actor: &str, pin: u8) -> Option<Released> {
        let holding = self.held.get_mut(&pin)?;
        if !holding.holders.remove(actor) {
            return None;
        }
        let released = Released { mode: holding.mode, last: holding.holders.is_empty() };
        if released.last {
            self.held.remove(&pin);
        }
        Some(released)
    }

    /// `actor` lets go of every pin it holds.
    pub(crate) fn release_all(&mut self, actor: &str) -> Vec<(u8, Released)> {
        let pins: Vec<u8> = self.held.iter().filter(|(_, h)| h.holders.contains(actor)).map(|(p, _)| *p).collect();
        pins.into_iter().filter_map(|pin| Some((pin, self.release(actor, pin)?))).collect()
    }

    /// Every held pin, with its mode and holders.
    pub(crate) fn all(&self) -> Vec<(u8, Mode, Vec<String>)> {
        self.held.iter().map(|(p, h)| (*p, h.mode, h.holders.iter().cloned().collect())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(pins: &mut Pins, actor: &str, pin: u8, mode: Mode) -> Result<Opening, Conflict> {
        let opening = pins.plan_open(actor, pin, mode)?;
        pins.commit_open(actor, pin, mode);
        Ok(opening)
    }

    #[test]
    fn an_output_has_one_holder() {
        let mut pins = Pins::default();
        assert_eq!(open(&mut pins, "A", 17, Mode::Output), Ok(Opening::Fresh));
        assert_eq!(open(&mut pins, "B", 17, Mode::Output), Err(Conflict { holder: "A".into(), mode: Mode::Output }));
        assert_eq!(open(&mut pins, "B", 17, Mode::Input(Pull::None)).unwrap_err().holder, "A");
        assert_eq!(open(&mut pins, "A", 17, Mode::Output), Ok(Opening::Same));
    }

    #[test]
    fn an_input_is_shared_by_actors_that_want_the_same_pull() {
        let mut pins = Pins::default();
        open(&mut pins, "A", 27, Mode::Input(Pull::Up)).unwrap();
        assert_eq!(open(&mut pins, "B", 27, Mode::Input(Pull::Up)), Ok(Opening::Shared));
        assert!(open(&mut pins, "C", 27, Mode::Input(Pull::Down)).is_err());
        assert!(open(&mut pins, "B", 27, Mode::Output).is_err(), "B cannot drive a line A reads");
        assert_eq!(pins.release("A", 27), Some(Released { mode: Mode::Input(Pull::Up), last: false }));
        assert_eq!(pins.release("B", 27), Some(Released { mode: Mode::Input(Pull::Up), last: true }));
        assert!(pins.all().is_empty());
    }

    #[test]
    fn a_sole_holder_may_change_the_mode_of_its_pin() {
        let mut pins = Pins::default();
        open(&mut pins, "A", 17, Mode::Output).unwrap();
        assert_eq!(open(&mut pins, "A", 17, Mode::Pwm), Ok(Opening::Reconfigure));
        assert_eq!(pins.mode_of("A", 17), Some(Mode::Pwm));
        assert_eq!(pins.mode_of("B", 17), None);
    }

    #[test]
    fn releasing_everything_of_an_actor_leaves_the_pins_of_others() {
        let mut pins = Pins::default();
        open(&mut pins, "A", 17, Mode::Output).unwrap();
        open(&mut pins, "A", 27, Mode::Input(Pull::Up)).unwrap();
        open(&mut pins, "B", 27, Mode::Input(Pull::Up)).unwrap();
        open(&mut pins, "B", 22, Mode::Output).unwrap();
        let released = pins.release_all("A");
        assert_eq!(released.len(), 2);
        assert!(released.contains(&(17, Released { mode: Mode::Output, last: true })));
        assert!(released.contains(&(27, Released { mode: Mode::Input(Pull::Up), last: false })));
        assert_eq!(pins.all().len(), 2);
        assert_eq!(pins.release("A", 17), None);
    }
}
