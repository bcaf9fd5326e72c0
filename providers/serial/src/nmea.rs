//! What the simulated GPS ([`crate::gps`]) says and answers, apart from
//! its I/O: the `SIM_GPS` setting, the GGA and RMC sentences of a fix at a
//! time of day, and the acknowledgement of a MediaTek `$PMTK` command with
//! a valid checksum (lines with a bad one are ignored, as such modules do).

use std::time::Duration;

/// The shortest and longest sentence interval.
const EVERY: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(3600));

/// A simulated GPS as `SIM_GPS` describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GpsSpec {
    /// The port name actors open it by.
    pub(crate) name: String,
    /// Degrees north (negative: south).
    pub(crate) latitude: f64,
    /// Degrees east (negative: west).
    pub(crate) longitude: f64,
    /// Metres above mean sea level.
    pub(crate) altitude: f64,
    /// Satellites in use.
    pub(crate) satellites: u8,
    /// The time between two fixes.
    pub(crate) every: Duration,
}

/// Why `SIM_GPS` cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum GpsSettingError {
    /// The port name is not one plain device name.
    #[error(transparent)]
    Name(#[from] crate::name::NameError),
    /// A word that is not `name=value`.
    #[error("`{0}` is not of the form name=value")]
    NotAnOption(String),
    /// A number out of its range, or not a number.
    #[error("`{key}` must be a number from {min} to {max}, not `{value}`")]
    Number {
        /// The option.
        key: String,
        /// What was given.
        value: String,
        /// The smallest it may be.
        min: f64,
        /// The largest it may be.
        max: f64,
    },
    /// An interval that is not a duration from 10 ms to 1 h.
    #[error("`every` must be a duration from 10ms to 1h, such as 1s or 200ms, not `{0}`")]
    Every(String),
    /// An option the module does not have.
    #[error("`{0}` is not an option; the options are lat, lon, alt, sats and every")]
    Unknown(String),
    /// No position.
    #[error("`lat` and `lon` are required: `gps0 lat=52.5163 lon=13.3777`")]
    NoPosition,
}

/// Reads `SIM_GPS`: a port name, then `lat`, `lon` (required), `alt`,
/// `sats` and `every` (a duration, as humantime reads it).
pub(crate) fn parse(text: &str) -> Result<Option<GpsSpec>, GpsSettingError> {
    let mut words = text.split_whitespace();
    let Some(name) = words.next() else { return Ok(None) };
    crate::name::check(name)?;
    let mut spec = GpsSpec { name: name.to_owned(), latitude: f64::NAN, longitude: f64::NAN, altitude: 0.0, satellites: 8, every: Duration::from_secs(1) };
    for word in words {
        let (key, value) = word.split_once('=').ok_or_else(|| GpsSettingError::NotAnOption(word.to_owned()))?;
        let number = |min: f64, max: f64| {
            value.parse::<f64>().ok().filter(|v| (min..=max).contains(v)).ok_or_else(|| GpsSettingError::Number {
                key: key.to_owned(),
                value: value.to_owned(),
                min,
                max,
            })
        };
        match key {
            "lat" => spec.latitude = number(-90.0, 90.0)?,
            "lon" => spec.longitude = number(-180.0, 180.0)?,
            "alt" => spec.altitude = number(-1000.0, 100_000.0)?,
            "sats" => spec.satellites = number(0.0, 99.0)? as u8,
            "every" => {
                spec.every = humantime::parse_duration(value)
                    .ok()
                    .filter(|every| (EVERY.0..=EVERY.1).contains(every))
                    .ok_or_else(|| GpsSettingError::Every(value.to_owned()))?;
            }
            other => return Err(GpsSettingError::Unknown(other.to_owned())),
        }
    }
    if spec.latitude.is_nan() || spec.longitude.is_nan() {
        return Err(GpsSettingError::NoPosition);
    }
    Ok(Some(spec))
}

/// The NMEA checksum: the XOR of the bytes between `$` and `*`.
fn checksum(body: &str) -> u8 {
    body.bytes().fold(0, |sum, b| sum ^ b)
}

/// `$body*CS\r\n`.
fn sentence(body: &str) -> String {
    format!("${body}*{:02X}\r\n", checksum(body))
}

/// Degrees as NMEA writes them: degrees and decimal minutes with
/// `degree_digits` digits of degrees, and the hemisphere.
fn degrees_minutes(value: f64, degree_digits: usize, positive: char, negative: char) -> String {
    let hemisphere = if value < 0.0 { negative } else { positive };
    let value = value.abs();
    let mut whole = value.trunc() as u32;
    let mut minutes = ((value - value.trunc()) * 60.0 * 10_000.0).round() / 10_000.0;
    if minutes >= 60.0 {
        whole += 1;
        minutes -= 60.0;
    }
    format!("{whole:0degree_digits$}{minutes:07.4},{hemisphere}")
}

/// The GGA and RMC sentences of `spec`'s fix at `unix_seconds`.
pub(crate) fn fix(spec: &GpsSpec, unix_seconds: u64) -> String {
    let day = unix_seconds / 86_400;
    let seconds = unix_seconds % 86_400;
    let time = format!("{:02}{:02}{:02}.00", seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let (year, month, date) = civil_from_days(day as i64);
    let latitude = degrees_minutes(spec.latitude, 2, 'N', 'S');
    let longitude = degrees_minutes(spec.longitude, 3, 'E', 'W');
    let gga = format!("GPGGA,{time},{latitude},{longitude},1,{:02},0.9,{:.1},M,0.0,M,,", spec.satellites, spec.altitude);
    let rmc = format!("GPRMC,{time},A,{latitude},{longitude},0.0,0.0,{date:02}{month:02}{:02},,,A", year % 100);
    sentence(&gga) + &sentence(&rmc)
}

/// The date of a day counted from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let date = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, date)
}

/// The answer to one line the actor sent: the acknowledgement of a
/// `$PMTK` command with a valid checksum, else nothing.
pub(crate) fn answer(line: &str) -> Option<String> {
    let (body, sum) = line.trim().strip_prefix('$')?.split_once('*')?;
    if u8::from_str_radix(sum, 16).ok()? != checksum(body) {
        return None;
    }
    let command = body.strip_prefix("PMTK")?.split(',').next()?;
    Some(sentence(&format!("PMTK001,{command},3")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec() -> GpsSpec {
        parse("gps0 lat=48.1173 lon=11.516667 alt=545.4 sats=8 every=250ms").unwrap().unwrap()
    }

    #[test]
    fn the_fix_is_written_as_gga_and_rmc_with_their_checksums() {
        // 1994-03-23 12:35:19 UTC, the time of the NMEA reference example.
        let text = fix(&spec(), 764_426_119);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[0], "$GPGGA,123519.00,4807.0380,N,01131.0000,E,1,08,0.9,545.4,M,0.0,M,,*52");
        assert_eq!(lines[1], "$GPRMC,123519.00,A,4807.0380,N,01131.0000,E,0.0,0.0,230394,,,A*5E");
    }

    #[test]
    fn southern_and_western_fixes_carry_their_hemispheres() {
        let south_west = GpsSpec { latitude: -33.8568, longitude: -151.2153, ..spec() };
        let text = fix(&south_west, 0);
        assert!(text.contains(",3351.4080,S,15112.9180,W,"), "{text}");
        assert!(text.contains(",010170,"), "the epoch is 1 January 1970: {text}");
    }

    #[test]
    fn a_pmtk_command_is_acknowledged_and_a_bad_checksum_is_ignored() {
        assert_eq!(answer("$PMTK220,1000*1F\r\n").as_deref(), Some("$PMTK001,220,3*30\r\n"));
        assert_eq!(answer("$PMTK220,1000*00\r\n"), None);
        assert_eq!(answer("$GPGGA,1*00"), None);
        assert_eq!(answer("noise"), None);
    }

    #[test]
    fn the_setting_names_the_port_and_refuses_what_a_module_cannot_be() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(spec().every, Duration::from_millis(250));
        for (bad, why) in [
            ("../gps lat=1 lon=1", "not a port name"),
            ("gps0 lat=91 lon=0", "`lat` must be a number from -90 to 90"),
            ("gps0 lat=1", "`lat` and `lon` are required"),
            ("gps0 lat=1 lon=1 every=1ms", "from 10ms to 1h"),
            ("gps0 lat=1 lon=1 every=99999999999999999999h", "must be a duration"),
            ("gps0 lat=1 lon=1 every=2d", "from 10ms to 1h"),
            ("gps0 lat=1 lon=1 speed=3", "`speed` is not an option"),
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    proptest! {
        #[test]
        fn every_fix_is_two_sentences_whose_checksums_hold(
            latitude in -90.0f64..=90.0, longitude in -180.0f64..=180.0, altitude in -1000.0f64..=100_000.0,
            satellites in 0u8..=99, at in 0u64..=4_102_444_800,
        ) {
            let spec = GpsSpec { name: "gps0".into(), latitude, longitude, altitude, satellites, every: Duration::from_secs(1) };
            let text = fix(&spec, at);
            let lines: Vec<&str> = text.split_terminator("\r\n").collect();
            prop_assert_eq!(lines.len(), 2);
            for line in lines {
                let (body, sum) = line.strip_prefix('$').unwrap().split_once('*').unwrap();
                prop_assert_eq!(u8::from_str_radix(sum, 16).unwrap(), checksum(body));
                prop_assert!(line.len() <= 82, "NMEA lines are at most 82 bytes: {}", line);
            }
        }

        #[test]
        fn only_a_pmtk_line_with_its_checksum_is_answered(line in "\\PC{0,100}") {
            if let Some(reply) = answer(&line) {
                prop_assert!(line.trim().starts_with("$PMTK"));
                prop_assert!(reply.starts_with("$PMTK001,") && reply.ends_with("\r\n"));
            }
        }

        #[test]
        fn any_setting_text_is_read_or_refused_without_panicking(text in "\\PC{0,80}") {
            if let Ok(Some(spec)) = parse(&text) {
                prop_assert!((-90.0..=90.0).contains(&spec.latitude) && (-180.0..=180.0).contains(&spec.longitude));
                prop_assert!(spec.every >= EVERY.0 && spec.every <= EVERY.1);
            }
        }
    }
}
