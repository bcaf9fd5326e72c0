//! Properties of grant rules and redaction over generated rules, URLs and
//! settings. The `grant_rule` and `redact` fuzz targets in fuzz/ check the
//! same on arbitrary text.

use proptest::prelude::*;
use provider_abi::grant::Rule;
use provider_abi::redact::{is_secret_name, redact_text, redact_url, redact_value, MASK};

/// A password as people write them into URLs: anything printable but
/// white space, including `@`, `:`, `/`, `?` and `#`, but never another
/// URL's `://`, and not digits followed by `/`, `?` or `#`: then
/// `user:PASSWORD@host` reads as well as `host:PORT/path...@...`
/// (`example.com:8080/login?mail=bob@example.com`), which redaction leaves
/// shown by design (a known limit, docs/fuzzing.md).
fn password() -> impl Strategy<Value = String> {
    "[!-~]{1,24}".prop_filter("no `://`, no port and path", |p| !p.contains("://") && !reads_as_a_port_and_path(p))
}

fn reads_as_a_port_and_path(password: &str) -> bool {
    let digits = password.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && matches!(password.as_bytes().get(digits), Some(b'/' | b'?' | b'#'))
}

proptest! {
    #[test]
    fn a_rule_parses_back_from_its_display(kind in "[a-z0-9-]{1,12}", value in ".{1,40}") {
        let rule = Rule::new(&kind, &value).unwrap();
        prop_assert_eq!(rule.to_string().parse::<Rule>().unwrap(), rule);
    }

    #[test]
    fn any_text_that_parses_as_a_rule_parses_back_from_its_display(text in ".{0,40}") {
        if let Ok(rule) = text.parse::<Rule>() {
            prop_assert_eq!(rule.to_string(), text.clone());
            prop_assert_eq!(rule.to_string().parse::<Rule>().unwrap(), rule);
        }
    }

    #[test]
    fn a_password_in_a_url_never_appears_in_the_redacted_url(
        scheme in "(redis|rediss|mqtt|mqtt\\+tls|https?|postgres)",
        user in "[a-z0-9_-]{0,10}",
        password in password(),
        host in "[a-z0-9.-]{1,16}(:[0-9]{1,5})?",
        path in "(/[a-z0-9/?=&#.-]{0,20})?",
    ) {
        let shown_as = format!("{scheme}://{user}:{MASK}@{host}{path}");
        prop_assume!(!shown_as.contains(&password));
        let url = format!("{scheme}://{user}:{password}@{host}{path}");
        let shown = redact_url(&url);
        prop_assert!(!shown.contains(&password), "{} shows in {}", password, shown);
    }

    #[test]
    fn a_password_in_a_url_in_a_message_never_appears_in_the_redacted_message(
        before in "[a-zA-Z ,.]{0,20}",
        user in "[a-z0-9_-]{0,10}",
        password in password().prop_filter("no quote", |p| !p.contains(['"', '\'', '`', '<', '>'])),
        after in "[a-zA-Z ,.]{0,20}",
    ) {
        let shown_as = format!("{before} redis://{user}:{MASK}@127.0.0.1:6379/0 {after}");
        prop_assume!(!shown_as.contains(&password));
        let message = format!("{before} redis://{user}:{password}@127.0.0.1:6379/0 {after}");
        let shown = redact_text(&message);
        prop_assert!(!shown.contains(&password), "{} shows in {}", password, shown);
    }

    #[test]
    fn a_token_given_as_the_user_of_a_url_never_appears_in_the_redacted_url(
        token in "[A-Za-z0-9_]{4,40}",
        host in "[a-z0-9.]{1,16}",
    ) {
        prop_assume!(!host.contains(&token) && !"https".contains(&token));
        let url = format!("https://{token}@{host}/repo.git");
        let shown = redact_url(&url);
        prop_assert!(!shown.contains(&token), "{} shows in {}", token, shown);
    }

    #[test]
    fn the_value_of_a_secret_setting_is_shown_only_as_the_mask(
        prefix in "([A-Za-z]{1,6}_)?",
        word in "(PASSWORD|SECRET|TOKEN|API_KEY|apiKey|CREDENTIALS|AUTH|PASS)",
        value in ".{1,40}",
    ) {
        let name = format!("{prefix}{word}");
        prop_assume!(!name.starts_with("__"));
        prop_assert!(is_secret_name(&name), "{} is not secret", name);
        prop_assert_eq!(redact_value(&name, &value), MASK);
    }
}
