//! Console passwords: Argon2id with RFC 9106's second recommended
//! parameter set (19 MiB, 2 passes, 1 lane) and a 16-byte random salt,
//! kept as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$SALT$HASH`) so
//! the parameters can be raised later without breaking stored hashes.
//! Verification reads the parameters from the string and compares in
//! constant time.

use argon2::{Algorithm, Argon2, Params, Version};

/// The cost of new hashes.
const M_COST: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
const OUT_LEN: usize = 32;

/// Stored strings are not trusted blindly: parameters beyond these are
/// refused (a tampered row must not make one login take minutes or GiB).
const MAX_M_COST: u32 = 1024 * 1024;
const MAX_T_COST: u32 = 16;

/// Hashes a password with a fresh salt.
pub fn hash(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no OS randomness: {e}"))?;
    hash_with(password, &salt, M_COST, T_COST, P_COST)
}

fn hash_with(password: &str, salt: &[u8], m: u32, t: u32, p: u32) -> Result<String, String> {
    let out = derive(password, salt, m, t, p, OUT_LEN)?;
    Ok(format!("$argon2id$v=19$m={m},t={t},p={p}${}${}", b64_encode(salt), b64_encode(&out)))
}

fn derive(password: &str, salt: &[u8], m: u32, t: u32, p: u32, len: usize) -> Result<Vec<u8>, String> {
    let params = Params::new(m, t, p, Some(len)).map_err(|e| format!("argon2 parameters: {e}"))?;
    let mut out = vec![0u8; len];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password.as_bytes(), salt, &mut out)
        .map_err(|e| format!("argon2: {e}"))?;
    Ok(out)
}

/// Whether `password` matches the PHC string `stored`. A string that is
/// not an Argon2id hash we could have written never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    let Some((m, t, p, salt, expected)) = parse(stored) else { return false };
    match derive(password, &salt, m, t, p, expected.len()) {
        Ok(got) => constant_time_eq(&got, &expected),
        Err(_) => false,
    }
}

/// A hash of a password nobody has: verifying against it costs what a
/// real check costs, so an unknown user name takes as long as a wrong
/// password.
pub fn decoy() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
}

type Parsed = (u32, u32, u32, Vec<u8>, Vec<u8>);

fn parse(stored: &str) -> Option<Parsed> {
    let mut parts = stored.split('$');
    let (empty, alg, version, params, salt, hash) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if !empty.is_empty() || alg != "argon2id" || version != "v=19" || parts.next().is_some() {
        return None;
    }
    let (mut m, mut t, mut p) = (None, None, None);
    for kv in params.split(',') {
        let (k, v) = kv.split_once('=')?;
        let v: u32 = v.parse().ok()?;
        match k {
            "m" => m = Some(v),
            "t" => t = Some(v),
            "p" => p = Some(v),
            _ => return None,
        }
    }
    let (m, t, p) = (m?, t?, p?);
    if m > MAX_M_COST || t > MAX_T_COST || p > 16 {
        return None;
    }
    let (salt, hash) = (b64_decode(salt)?, b64_decode(hash)?);
    (salt.len() >= 8 && (16..=64).contains(&hash.len())).then_some((m, t, p, salt, hash))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 without padding (the PHC string's encoding).
pub fn b64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out
}

/// Standard or URL-safe base64, padded or not; `None` on anything else.
pub fn b64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horsf", &h));
        assert_ne!(h, hash("correct horse").unwrap(), "every hash has its own salt");
    }

    #[test]
    fn parameters_travel_with_the_hash() {
        // A hash made with small parameters verifies through the PHC
        // string alone (the parameters travel with it).
        let h = hash_with("pw", b"saltsaltsalt", 64, 1, 1).unwrap();
        assert!(verify("pw", &h));
        assert!(!verify("pw2", &h));
    }

    #[test]
    fn foreign_or_tampered_strings_never_match() {
        let h = hash_with("pw", b"saltsaltsalt", 64, 1, 1).unwrap();
        for bad in [
            "",
            "plain",
            &h.replace("argon2id", "argon2i"),
            &h.replace("m=64", "m=99999999"),
            &h.replace("t=1", "t=1000"),
            &format!("{h}$extra"),
            "$argon2id$v=19$m=64,t=1,p=1$!!$AAAA",
        ] {
            assert!(!verify("pw", bad), "{bad}");
        }
        assert!(!verify("pw", decoy()));
    }

    #[test]
    fn base64_round_trip() {
        for n in 0..40 {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(b64_decode(&b64_encode(&bytes)).unwrap(), bytes);
        }
        assert_eq!(b64_encode(b"abc"), "YWJj");
        assert_eq!(b64_encode(b"ab"), "YWI");
        assert_eq!(b64_decode("ZWxhc3RpYzphYmM=").unwrap(), b"elastic:abc");
    }
}
