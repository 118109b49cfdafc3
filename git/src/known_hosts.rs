//! `known_hosts` matching: plain host patterns (with `[host]:port`, `*`/`?` wildcards and
//! `!` negation) and hashed entries (`|1|salt|hmac-sha1`), compared by key type and blob.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};

/// One usable line of a known_hosts file.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    hosts: String,
    key_type: String,
    key: Vec<u8>,
}

/// Parsed known_hosts content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnownHosts {
    entries: Vec<Entry>,
}

impl KnownHosts {
    /// Parses the file text; comments, blank lines, `@revoked`/`@cert-authority` markers and
    /// malformed lines are skipped.
    pub fn parse(text: &str) -> Self {
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('@'))
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let hosts = fields.next()?.to_string();
                let key_type = fields.next()?.to_string();
                let key = STANDARD.decode(fields.next()?).ok()?;
                Some(Entry {
                    hosts,
                    key_type,
                    key,
                })
            })
            .collect();
        Self { entries }
    }

    /// Whether any entry was parsed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `key` (the raw public key blob) is known for `host` on `port`.
    pub fn accepts(&self, host: &str, port: u16, key: &[u8]) -> bool {
        let name = if port == 22 {
            host.to_string()
        } else {
            format!("[{host}]:{port}")
        };
        self.entries
            .iter()
            .any(|e| e.key == key && host_matches(&e.hosts, &name))
    }
}

fn host_matches(patterns: &str, name: &str) -> bool {
    if let Some(hashed) = patterns.strip_prefix("|1|") {
        let Some((salt, hash)) = hashed.split_once('|') else {
            return false;
        };
        let (Ok(salt), Ok(hash)) = (STANDARD.decode(salt), STANDARD.decode(hash)) else {
            return false;
        };
        let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(&salt) else {
            return false;
        };
        mac.update(name.as_bytes());
        return mac.verify_slice(&hash).is_ok();
    }
    let mut matched = false;
    for pattern in patterns.split(',') {
        if let Some(negated) = pattern.strip_prefix('!') {
            if glob(negated, name) {
                return false;
            }
        } else if glob(pattern, name) {
            matched = true;
        }
    }
    matched
}

fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

    fn key() -> Vec<u8> {
        STANDARD.decode(KEY).unwrap()
    }

    #[test]
    fn plain_patterns_match_host_and_port() {
        let kh = KnownHosts::parse(&format!(
            "# comment\ngithub.com,140.82.121.4 ssh-ed25519 {KEY}\n[127.0.0.1]:2222 ssh-ed25519 {KEY}\n*.example.com,!bad.example.com ssh-ed25519 {KEY}\n"
        ));
        let cases = [
            ("github.com", 22, true),
            ("140.82.121.4", 22, true),
            ("127.0.0.1", 2222, true),
            ("127.0.0.1", 22, false),
            ("git.example.com", 22, true),
            ("bad.example.com", 22, false),
            ("gitlab.com", 22, false),
        ];
        for (host, port, want) in cases {
            assert_eq!(kh.accepts(host, port, &key()), want, "{host}:{port}");
        }
        assert!(!kh.accepts("github.com", 22, b"other key"));
    }

    #[test]
    fn hashed_entries_match() {
        // ssh-keygen -H output for "[127.0.0.1]:2222" with this salt.
        let salt = [7u8; 20];
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(&salt).unwrap();
        mac.update(b"[127.0.0.1]:2222");
        let hash = mac.finalize().into_bytes();
        let line = format!(
            "|1|{}|{} ssh-ed25519 {KEY}",
            STANDARD.encode(salt),
            STANDARD.encode(hash)
        );
        let kh = KnownHosts::parse(&line);
        assert!(kh.accepts("127.0.0.1", 2222, &key()));
        assert!(!kh.accepts("127.0.0.1", 2223, &key()));
    }
}
