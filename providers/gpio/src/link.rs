//! The pins a link opens for its actor: the link value `OPEN`, so an actor
//! hears its button from the moment it is linked, without a start-up call
//! of its own (waPC has none), and an operator sees in the manifest what
//! each actor drives.
//!
//! `OPEN = "button in pull=up edge=falling debounce=20; led out level=low;
//! fan pwm frequency=25000 duty=0.4"`: entries separated by `;`, each a pin
//! (label or number), a mode (`in`, `out`, `pwm`) and options. The pins are
//! opened at bind time under the same checks as the actor's own calls, so
//! a pin outside the grant refuses the link.

use provider_sdk::codec::gpio::{Edge, InputRequest, Level, OutputRequest, Pull, PwmRequest};

/// One pin to open.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Open {
    /// As an input.
    Input(InputRequest),
    /// As an output.
    Output(OutputRequest),
    /// As a PWM output.
    Pwm(PwmRequest),
}

/// Why an entry of `OPEN` cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("OPEN: `{entry}`: {problem}")]
pub(crate) struct OpenError {
    /// The entry as given.
    pub(crate) entry: String,
    /// What is wrong with it.
    pub(crate) problem: OpenProblem,
}

/// What is wrong with an entry of `OPEN`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OpenProblem {
    /// No pin, or no mode.
    #[error("expected a pin, a mode (in, out, pwm) and options, such as `button in pull=up`")]
    Incomplete,
    /// A word after the mode without `=`.
    #[error("`{word}` is not an option of the form name=value")]
    NotAnOption {
        /// The word.
        word: String,
    },
    /// An option the mode does not take.
    #[error("`{name}` is not an option of {mode}; it takes {known}")]
    UnknownOption {
        /// The option's name.
        name: String,
        /// The mode.
        mode: String,
        /// The options the mode takes.
        known: &'static str,
    },
    /// A value that is none of the option's words.
    #[error("`{value}` is not one of {}", .choices.join(", "))]
    NotAChoice {
        /// The value given.
        value: String,
        /// The words the option takes.
        choices: Vec<String>,
    },
    /// A debounce that is not a number of milliseconds.
    #[error("debounce takes milliseconds, such as 20, not `{value}`")]
    Debounce {
        /// The value given.
        value: String,
    },
    /// A numeric option whose value is not a number.
    #[error("{name} takes a number, not `{value}`")]
    NotANumber {
        /// The option's name.
        name: String,
        /// The value given.
        value: String,
    },
    /// A mode other than `in`, `out` and `pwm`.
    #[error("`{mode}` is not a mode: use in, out or pwm")]
    UnknownMode {
        /// The mode given.
        mode: String,
    },
}

/// Reads the `OPEN` link value.
pub(crate) fn parse(text: &str) -> Result<Vec<Open>, OpenError> {
    text.split(';').map(str::trim).filter(|e| !e.is_empty()).map(entry).collect()
}

fn entry(text: &str) -> Result<Open, OpenError> {
    let fail = |problem: OpenProblem| OpenError { entry: text.to_owned(), problem };
    let mut words = text.split_whitespace();
    let (Some(pin), Some(mode)) = (words.next(), words.next()) else {
        return Err(fail(OpenProblem::Incomplete));
    };
    let pin = pin.to_owned();
    let options: Vec<(&str, &str)> = words
        .map(|w| w.split_once('=').ok_or_else(|| fail(OpenProblem::NotAnOption { word: w.to_owned() })))
        .collect::<Result<_, _>>()?;
    let unknown = |name: &str, known: &'static str| {
        fail(OpenProblem::UnknownOption { name: name.to_owned(), mode: mode.to_owned(), known })
    };
    match mode {
        "in" => {
            let mut request = InputRequest { pin, ..InputRequest::default() };
            for (name, value) in options {
                match name {
                    "pull" => request.pull = choice(value, &[("none", Pull::None), ("up", Pull::Up), ("down", Pull::Down)]).map_err(fail)?,
                    "edge" => {
                        let edges = [("none", Edge::None), ("rising", Edge::Rising), ("falling", Edge::Falling), ("both", Edge::Both)];
                        request.edge = choice(value, &edges).map_err(fail)?
                    }
                    "debounce" => {
                        request.debounce_ms = value
                            .trim_end_matches("ms")
                            .parse()
                            .map_err(|_| fail(OpenProblem::Debounce { value: value.to_owned() }))?
                    }
                    other => return Err(unknown(other, "pull, edge and debounce")),
                }
            }
            Ok(Open::Input(request))
        }
        "out" => {
            let mut request = OutputRequest { pin, level: Level::Low };
            for (name, value) in options {
                match name {
                    "level" => request.level = choice(value, &[("low", Level::Low), ("high", Level::High)]).map_err(fail)?,
                    other => return Err(unknown(other, "level")),
                }
            }
            Ok(Open::Output(request))
        }
        "pwm" => {
            let mut request = PwmRequest { pin, frequency_hz: 0.0, duty_cycle: 0.0, hardware: false };
            for (name, value) in options {
                let number = || {
                    value.parse::<f64>().map_err(|_| fail(OpenProblem::NotANumber { name: name.to_owned(), value: value.to_owned() }))
                };
                match name {
                    "frequency" => request.frequency_hz = number()?,
                    "duty" => request.duty_cycle = number()?,
                    "hardware" => request.hardware = choice(value, &[("true", true), ("false", false)]).map_err(fail)?,
                    other => return Err(unknown(other, "frequency, duty and hardware")),
                }
            }
            Ok(Open::Pwm(request))
        }
        other => Err(fail(OpenProblem::UnknownMode { mode: other.to_owned() })),
    }
}

fn choice<T: Copy>(value: &str, choices: &[(&str, T)]) -> Result<T, OpenProblem> {
    choices.iter().find(|(name, _)| *name == value).map(|(_, v)| *v).ok_or_else(|| OpenProblem::NotAChoice {
        value: value.to_owned(),
        choices: choices.iter().map(|(name, _)| (*name).to_owned()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_entry_names_a_pin_a_mode_and_its_options() {
        let opens = parse("button in pull=up edge=falling debounce=20ms; led out level=high; fan pwm frequency=25000 duty=0.4;").unwrap();
        assert_eq!(
            opens,
            [
                Open::Input(InputRequest { pin: "button".into(), pull: Pull::Up, edge: Edge::Falling, debounce_ms: 20 }),
                Open::Output(OutputRequest { pin: "led".into(), level: Level::High }),
                Open::Pwm(PwmRequest { pin: "fan".into(), frequency_hz: 25000.0, duty_cycle: 0.4, hardware: false }),
            ]
        );
        assert_eq!(parse("  ").unwrap(), []);
    }

    #[test]
    fn a_mistake_is_refused_naming_the_entry_and_what_would_fit() {
        let err = parse("led out level=on").unwrap_err().to_string();
        assert!(err.contains("OPEN: `led out level=on`: `on` is not one of low, high"), "{err}");
        let err = parse("button input").unwrap_err().to_string();
        assert!(err.contains("`input` is not a mode: use in, out or pwm"), "{err}");
        let err = parse("button in edge=both bounce=5").unwrap_err().to_string();
        assert!(err.contains("`bounce` is not an option of in; it takes pull, edge and debounce"), "{err}");
        assert!(parse("led").unwrap_err().to_string().contains("expected a pin, a mode"));
    }
}
