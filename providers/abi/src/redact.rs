//! Redaction: credentials out of everything printed, logged or sent back.
//!
//! Link values and provider settings carry secrets (a Redis URL with its
//! password, an API token), and errors quote them (`Redis at redis://:pw@…
//! is unreachable`). Host and providers pass such text through these
//! functions before it reaches a log line, `host-edge ctl status`, a
//! `host-edge check` problem or an HTTP body:
//!
//! - [`redact_url`] hides the credentials of a URL: `scheme://user:pass@host`
//!   becomes `scheme://user:***@host`, `scheme://:pass@host` becomes
//!   `scheme://:***@host`, and a user name alone (`https://TOKEN@host`, a
//!   common way to pass a token) becomes `scheme://***@host`. Every URL in
//!   the value is treated so, and the value is taken as one piece: a
//!   password holding a space, a quote, `/`, `?` or `#` is hidden whole.
//! - [`redact_text`] does the same for every URL inside a message, where a
//!   URL ends at white space or a quote (`"`, `'`, `` ` ``, `<`, `>`).
//! - [`redact_value`] hides the whole value of a setting whose name says it
//!   is secret ([`is_secret_name`]) and hides URL credentials in all others;
//!   [`redact_values`] does it for a whole map.
//!
//! Redaction errs on the side of hiding: an `@` in a URL's query string can
//! make it hide more than the credentials, never less. Text with nothing to
//! hide comes back borrowed, unchanged.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::settings::RESERVED_PREFIXES;

/// What a hidden secret is shown as.
pub const MASK: &str = "***";

/// Words that make a setting secret wherever they appear in its name
/// (compared without regard to case): `REDIS_PASSWORD`, `CLIENT_SECRET`,
/// `AUTH_TOKEN_FILE`, `AWS_CREDENTIALS`, `AUTHORIZATION`, `SESSION_COOKIE`.
const SECRET_WORDS: [&str; 8] =
    ["PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "CREDENTIAL", "AUTHORIZATION", "COOKIE"];

/// Whether the value of the setting `name` is a secret, to be hidden whole.
///
/// A name is secret when it contains one of `PASSWORD`, `PASSWD`,
/// `PASSPHRASE`, `SECRET`, `TOKEN`, `CREDENTIAL`, `AUTHORIZATION` or
/// `COOKIE`, or when its last word (words split at anything but letters and
/// digits) ends in `KEY` or `KEYS` or is `PASS`, `PWD` or `AUTH`; case does
/// not matter. So `API_KEY`, `apiKey`, `PRIVATE_KEY`, `SECRET_ACCESS_KEY`,
/// `REDIS_PASS` and `BASIC_AUTH` are secret, while `KEY_PREFIX` and
/// `ACCESS_KEY_ID` (names *about* keys, not keys) are shown.
///
/// The keys the host adds itself (`__host_edge_grant`, `__wascc_issuer`,
/// … — see [`RESERVED_PREFIXES`]) are never secret: they hold grant rules,
/// public keys and claims, which `ctl status` must show. URLs in them are
/// still redacted by [`redact_value`].
pub fn is_secret_name(name: &str) -> bool {
    if RESERVED_PREFIXES.iter().any(|prefix| name.starts_with(prefix)) {
        return false;
    }
    let upper = name.to_ascii_uppercase();
    if SECRET_WORDS.iter().any(|word| upper.contains(word)) {
        return true;
    }
    let last = upper.rsplit(|c: char| !c.is_ascii_alphanumeric()).find(|w| !w.is_empty()).unwrap_or("");
    last.ends_with("KEY") || last.ends_with("KEYS") || matches!(last, "PASS" | "PWD" | "AUTH")
}

/// The value of setting `name` as it may be shown: [`MASK`] for a secret
/// name ([`is_secret_name`]; an empty secret stays empty, so "not set" is
/// still visible), otherwise the value with the credentials of every URL in
/// it hidden ([`redact_url`]).
pub fn redact_value<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    if is_secret_name(name) && !value.is_empty() {
        Cow::Borrowed(MASK)
    } else {
        redact_url(value)
    }
}

/// Every value of `values` as [`redact_value`] shows it, under the same
/// names.
pub fn redact_values(values: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    values.iter().map(|(name, value)| (name.clone(), redact_value(name, value).into_owned())).collect()
}

/// `url` with the credentials of every URL in it hidden; the value is taken
/// as one piece (see the [module docs](self)).
pub fn redact_url(url: &str) -> Cow<'_, str> {
    redact(url, |_| false)
}

/// `text` with the credentials of every URL in it hidden, where a URL ends
/// at white space or a quote (see the [module docs](self)).
pub fn redact_text(text: &str) -> Cow<'_, str> {
    redact(text, |c| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
}

/// Finds each `scheme://` in `text` and hides the credentials of what
/// follows, up to the next character for which `ends_url` holds or the next
/// `://` that starts another URL, whichever comes first.
fn redact(text: &str, ends_url: fn(char) -> bool) -> Cow<'_, str> {
    let mut out = String::new();
    // Bytes of `text` up to here are in `out` (or need no change).
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let separator = from + found;
        let start = separator + 3;
        from = start;
        if !has_scheme(&text[..separator]) {
            continue;
        }
        let mut end = text[start..].find(ends_url).map_or(text.len(), |i| start + i);
        // The URL ends where the next one starts, unless that `://` follows
        // nothing but a user name from this URL's start (maybe empty, maybe
        // `_app` or `1app`): then it is that user, its colon and a password
        // starting with `//`, as base64 passwords can.
        let mut search = start;
        while let Some(next) = text[search..end].find("://") {
            if text[start..search + next].chars().all(is_user_char) {
                search += next + 3;
                continue;
            }
            end = search + next;
            break;
        }
        // What this URL spans is done with: the next URL starts after it.
        from = end;
        let rest = &text[start..end];
        let Some(at) = userinfo_end(rest) else { continue };
        let userinfo = &rest[..at];
        let masked = mask_userinfo(userinfo);
        if masked != userinfo {
            out.push_str(&text[copied..start]);
            out.push_str(&masked);
            copied = start + at;
        }
    }
    if copied == 0 {
        Cow::Borrowed(text)
    } else {
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }
}

/// Whether `before` ends in a URL scheme: a letter, then letters, digits,
/// `+`, `-` or `.` (RFC 3986).
fn has_scheme(before: &str) -> bool {
    let start = before.rfind(|c: char| !is_scheme_char(c)).map_or(0, |i| i + before[i..].chars().next().map_or(1, char::len_utf8));
    before[start..].chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

/// Whether `c` may be part of a URL scheme: letters, digits, `+`, `-`, `.`.
fn is_scheme_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')
}

/// Whether `c` may be part of a URL's user name as written: RFC 3986's
/// unreserved characters, sub-delimiters and `%`, never `:`, `@`, `/`.
fn is_user_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=%".contains(c)
}

/// Where the user information of `rest` (a URL after its `://`) ends: the
/// byte index of the `@` before the host, if it has user information.
fn userinfo_end(rest: &str) -> Option<usize> {
    // A password holding a raw `/`, `?` or `#` (base64 passwords do) puts the
    // `@` after the place the authority seems to end, and one that also
    // holds an `@` before that place (`p@ss/word`) puts an `@` inside it
    // too. Take the last `@` of all when what stands before it reads as
    // `user:password`: the user part is within the authority, and the
    // "password" is not a port followed by a path (`host:8080/login?mail=a@b`).
    // An `@` in a path or query after credentials then hides the host too,
    // which errs on the side of hiding.
    if let Some(at) = rest.rfind('@') {
        if let Some((user, password)) = rest[..at].split_once(':') {
            let digits = password.bytes().take_while(u8::is_ascii_digit).count();
            let is_port = digits > 0 && matches!(password.as_bytes().get(digits), None | Some(b'/' | b'?' | b'#'));
            if !user.contains(['/', '?', '#']) && !is_port {
                return Some(at);
            }
        }
    }
    // Otherwise the last `@` of the authority: a raw `@` in a password comes
    // before it.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    rest[..authority_end].rfind('@')
}

/// `user:password` as `user:***`, a lone `user` as `***`; empty parts stay
/// empty.
fn mask_userinfo(userinfo: &str) -> Cow<'_, str> {
    match userinfo.split_once(':') {
        Some((_, "")) => Cow::Borrowed(userinfo),
        Some((user, _)) => Cow::Owned(format!("{user}:{MASK}")),
        None if userinfo.is_empty() => Cow::Borrowed(userinfo),
        None => Cow::Borrowed(MASK),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_a_url_is_hidden_and_the_user_host_and_path_stay() {
        assert_eq!(redact_url("redis://:s3cretpass@127.0.0.1:6390/"), "redis://:***@127.0.0.1:6390/");
        assert_eq!(redact_url("redis://app:s3cret@db.local:6379/2"), "redis://app:***@db.local:6379/2");
        assert_eq!(redact_url("postgres://app:s3cret@[::1]:5432/db?sslmode=off"), "postgres://app:***@[::1]:5432/db?sslmode=off");
        assert_eq!(redact_url("mqtt+tls://dev-1:p%40ss@broker:8883"), "mqtt+tls://dev-1:***@broker:8883");
    }

    #[test]
    fn a_user_name_alone_is_hidden_as_it_may_be_a_token() {
        assert_eq!(redact_url("https://ghp_abc123@github.com/org/repo.git"), "https://***@github.com/org/repo.git");
    }

    #[test]
    fn passwords_holding_url_delimiters_are_hidden_whole() {
        assert_eq!(redact_url("redis://:ab/cd+ef==@127.0.0.1:6379/"), "redis://:***@127.0.0.1:6379/");
        assert_eq!(redact_url("redis://:p@ss@127.0.0.1/"), "redis://:***@127.0.0.1/");
        assert_eq!(redact_url("redis://u:a?b#c@host"), "redis://u:***@host");
        assert_eq!(redact_url("redis://:two words@host"), "redis://:***@host");
    }

    #[test]
    fn a_password_holding_an_at_sign_before_a_slash_is_hidden_whole() {
        // The `@` in the password comes before the `/` that seems to end
        // the authority: the last `@` is still the one before the host.
        assert_eq!(redact_url("redis://app:@:ts=e/1ed@db.local:6379/0"), "redis://app:***@db.local:6379/0");
        assert_eq!(redact_url("redis://app:p@ss/word@db.local:6379/0"), "redis://app:***@db.local:6379/0");
        assert_eq!(redact_text("failed: redis://:a@b?c#d@host/0 down"), "failed: redis://:***@host/0 down");
    }

    #[test]
    fn a_password_starting_with_two_slashes_is_hidden_whole_not_read_as_another_url() {
        // Base64 passwords can start with `//`: `app://` is then a user name
        // and its colon, not the scheme of a second URL.
        assert_eq!(redact_url("redis://app://ab/cd==@db.local:6379/0"), "redis://app:***@db.local:6379/0");
        assert_eq!(redact_text("down: redis://app://8A/x@db.local/0, retrying"), "down: redis://app:***@db.local/0, retrying");
        assert_eq!(redact_text("servers=nats://a:pw1@h1,nats://b:pw2@h2"), "servers=nats://a:***@h1,nats://b:***@h2");
    }

    #[test]
    fn a_password_starting_with_two_slashes_after_any_user_name_is_hidden_whole() {
        // Found by the property test: with no user name, `redis://://a@…`
        // read as a URL ending at once and a password that stayed in clear.
        assert_eq!(redact_text("redis://://a@127.0.0.1:6379/0"), "redis://:***@127.0.0.1:6379/0");
        assert_eq!(redact_url("redis://1app://pw==@db.local/0"), "redis://1app:***@db.local/0");
        assert_eq!(redact_url("redis://_app://pw==@db.local/0"), "redis://_app:***@db.local/0");
    }

    #[test]
    fn urls_without_credentials_come_back_borrowed_and_unchanged() {
        for text in [
            "redis://127.0.0.1:6379/",
            "http://example.com:8080/login?mail=bob@example.com",
            "http://example.com/a@b",
            "not a url: user:pass@host",
            "://:pw@host",
            "redis://:@host",
            "redis://:***@host",
            "",
        ] {
            assert!(matches!(redact_url(text), Cow::Borrowed(t) if t == text), "{text}");
            assert!(matches!(redact_text(text), Cow::Borrowed(_)), "{text}");
        }
    }

    #[test]
    fn every_url_in_a_message_is_redacted_and_the_rest_kept() {
        let message = "unavailable: Redis at redis://:s3cretpass@127.0.0.1:6390/ is unreachable: \
                       connection refused (tried `redis://app:other@10.0.0.2`, \"nats://n:tok@bus\")";
        assert_eq!(
            redact_text(message),
            "unavailable: Redis at redis://:***@127.0.0.1:6390/ is unreachable: \
             connection refused (tried `redis://app:***@10.0.0.2`, \"nats://n:***@bus\")"
        );
        assert_eq!(redact_text("servers=nats://a:pw1@h1,nats://b:pw2@h2"), "servers=nats://a:***@h1,nats://b:***@h2");
        assert_eq!(redact_text("é redis://ü:pässwörd@höst/ ü"), "é redis://ü:***@höst/ ü");
    }

    #[test]
    fn a_url_in_text_ends_at_white_space_so_an_at_sign_in_later_words_is_left_alone() {
        let text = "GET http://example.com:8080/x failed; mail ops:team@example.com";
        assert!(matches!(redact_text(text), Cow::Borrowed(_)));
    }

    #[test]
    fn secret_names_are_recognised_by_their_words() {
        for name in [
            "PASSWORD", "redis_password", "DB_PASSWD", "KEY_PASSPHRASE", "CLIENT_SECRET", "AUTH_TOKEN",
            "tokenFile", "AWS_CREDENTIALS", "AUTHORIZATION", "SESSION_COOKIE", "KEY", "API_KEY", "apiKey",
            "PRIVATE-KEY", "SECRET_ACCESS_KEY", "SSH_KEYS", "REDIS_PASS", "DB_PWD", "BASIC_AUTH",
        ] {
            assert!(is_secret_name(name), "{name} should be secret");
        }
        for name in ["URL", "PORT", "PATH", "KEY_PREFIX", "ACCESS_KEY_ID", "KEYSPACE", "AUTHOR", "PASSTHROUGH", ""] {
            assert!(!is_secret_name(name), "{name} should be shown");
        }
    }

    #[test]
    fn keys_the_host_adds_are_never_secret_but_urls_in_them_are_still_redacted() {
        assert!(!is_secret_name("__host_edge_grant"));
        assert!(!is_secret_name("__wascc_token_key"));
        assert_eq!(redact_value("__host_edge_grant", r#"[["prefix:sensors:"]]"#), r#"[["prefix:sensors:"]]"#);
        assert_eq!(redact_value("__wascc_x", "redis://:pw@h"), "redis://:***@h");
    }

    #[test]
    fn a_secret_value_is_hidden_whole_and_other_values_lose_only_url_credentials() {
        assert_eq!(redact_value("API_KEY", "abc123"), MASK);
        assert_eq!(redact_value("REDIS_PASSWORD", "redis://:pw@h"), MASK);
        assert_eq!(redact_value("API_KEY", ""), "");
        assert_eq!(redact_value("URL", "redis://:s3cretpass@127.0.0.1:6390/"), "redis://:***@127.0.0.1:6390/");
        assert_eq!(redact_value("PATH", "counter.db"), "counter.db");
    }

    #[test]
    fn a_map_keeps_its_names_and_hides_its_secrets() {
        let values: BTreeMap<String, String> = [
            ("URL", "redis://:s3cretpass@127.0.0.1:6390/"),
            ("POOL_SIZE", "8"),
            ("AUTH_TOKEN", "t0ken"),
            ("__host_edge_grant", "[]"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let shown = redact_values(&values);
        assert_eq!(shown.keys().collect::<Vec<_>>(), values.keys().collect::<Vec<_>>());
        assert_eq!(shown["URL"], "redis://:***@127.0.0.1:6390/");
        assert_eq!(shown["POOL_SIZE"], "8");
        assert_eq!(shown["AUTH_TOKEN"], MASK);
        assert_eq!(shown["__host_edge_grant"], "[]");
        assert!(!format!("{shown:?}").contains("s3cretpass") && !format!("{shown:?}").contains("t0ken"));
    }
}
