//! Properties of the `OPEN` link value over generated entries (in the
//! crate, as the provider is a cdylib only). The `gpio_open` fuzz target
//! in fuzz/ checks the same on arbitrary text.

use proptest::prelude::*;
use provider_sdk::codec::gpio::{Edge, Level, Pull};

use crate::link::{parse, Open};

/// One entry as an operator writes it, and the pin opening it stands for.
fn entry() -> impl Strategy<Value = (String, Open)> {
    let pin = "[a-z][a-z0-9_]{0,6}|[0-9]{1,2}";
    let input = (pin, prop_oneof![Just(Pull::None), Just(Pull::Up), Just(Pull::Down)], prop_oneof![Just(Edge::None), Just(Edge::Rising), Just(Edge::Falling), Just(Edge::Both)], 0u32..10_000)
        .prop_map(|(pin, pull, edge, debounce_ms)| {
            let pull_word = match pull { Pull::None => "none", Pull::Up => "up", Pull::Down => "down" };
            let edge_word = match edge { Edge::None => "none", Edge::Rising => "rising", Edge::Falling => "falling", Edge::Both => "both" };
            let text = format!("{pin} in pull={pull_word} edge={edge_word} debounce={debounce_ms}");
            (text, Open::Input(provider_sdk::codec::gpio::InputRequest { pin, pull, edge, debounce_ms }))
        });
    let output = (pin, any::<bool>()).prop_map(|(pin, high)| {
        let level = Level::from(high);
        (format!("{pin} out level={}", level.as_str()), Open::Output(provider_sdk::codec::gpio::OutputRequest { pin, level }))
    });
    let pwm = (pin, 1u32..100_000, 0u32..=100).prop_map(|(pin, frequency, percent)| {
        let duty = f64::from(percent) / 100.0;
        let text = format!("{pin} pwm frequency={frequency} duty={duty}");
        (text, Open::Pwm(provider_sdk::codec::gpio::PwmRequest { pin, frequency_hz: f64::from(frequency), duty_cycle: duty, hardware: false }))
    });
    prop_oneof![input, output, pwm]
}

proptest! {
    #[test]
    fn an_open_value_reads_as_the_entries_it_was_written_from(entries in proptest::collection::vec(entry(), 0..5), spaces in " {0,2}") {
        let text = entries.iter().map(|(text, _)| text.as_str()).collect::<Vec<_>>().join(&format!("{spaces};{spaces}"));
        let expected: Vec<Open> = entries.into_iter().map(|(_, open)| open).collect();
        prop_assert_eq!(parse(&text).unwrap(), expected);
    }

    #[test]
    fn any_open_value_is_read_or_refused_naming_open(text in "[a-z0-9 ;=.]{0,60}") {
        if let Err(e) = parse(&text) {
            prop_assert!(e.to_string().starts_with("OPEN: "), "{}", e);
        }
    }
}
