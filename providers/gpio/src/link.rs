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

/// Reads the `OPEN` link value.
pub(crate) fn parse(text: &str) -> Result<Vec<Open>, String> {
    text.split(';').map(str::trim).filter(|e| !e.is_empty()).map(entry).collect()
}

fn entry(text: &str) -> Result<Open, String> {
    let fail = |why: String| format!("OPEN: `{text}`: {why}");
    let mut words = text.split_whitespace();
    let (Some(pin), Some(mode)) = (words.next(), words.next()) else {
        return Err(fail("expected a pin, a mode (in, out, pwm) and options, such as `button in pull=up`".into()));
    };
    let pin = pin.to_owned();
    let options: Vec<(&str, &str)> = words
        .map(|w| w.split_once('=').ok_or_else(|| fail(format!("`{w}` is not an option of the form name=value"))))
        .collect::<Result<_, _>>()?;
    let unknown = |name: &str, known: &str| fail(format!("`{name}` is not an option of {mode}; it takes {known}"));
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
                        request.debounce_ms = value.trim_end_matches("ms").parse().map_err(|_| {
                            fail(format!("debounce takes milliseconds, such as 20, not `{value}`"))
                        })?
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
                let number = || value.parse::<f64>().map_err(|_| fail(format!("{name} takes a number, not `{value}`")));
                match name {
                    "frequency" => request.frequency_hz = number()?,
                    "duty" => request.duty_cycle = number()?,
                    "hardware" => request.hardware = choice(value, &[("true", true), ("false", false)]).map_err(fail)?,
                    other => return Err(unknown(other, "frequency, duty and hardware")),
                }
            }
            Ok(Open::Pwm(request))
        }
        other => Err(fail(format!("`{other}` is not a mode: use in, out or pwm"))),
    }
}

fn choice<T: Copy>(value: &str, choices: &[(&str, T)]) -> Result<T, String> {
    choices.iter().find(|(name, _)| *name == value).map(|(_, v)| *v).ok_or_else(|| {
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        format!("`{value}` is not one of {}", names.join(", "))
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
        let err = parse("led out level=on").unwrap_err();
        assert!(err.contains("OPEN: `led out level=on`: `on` is not one of low, high"), "{err}");
        let err = parse("button input").unwrap_err();
        assert!(err.contains("`input` is not a mode: use in, out or pwm"), "{err}");
        let err = parse("button in edge=both bounce=5").unwrap_err();
        assert!(err.contains("`bounce` is not an option of in; it takes pull, edge and debounce"), "{err}");
        assert!(parse("led").unwrap_err().contains("expected a pin, a mode"));
    }
}
