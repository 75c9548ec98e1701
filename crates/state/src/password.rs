//! Console passwords: Argon2id with RFC 9106's second recommended
//! parameter set (19 MiB, 2 passes, 1 lane) and a 16-byte random salt,
//! kept as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$SALT$HASH`) so
//! the parameters can be raised later without breaking stored hashes.
//! Verification reads the parameters from the string and compares in
//! constant time.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, CustomizedPasswordHasher, Params, PasswordVerifier, Version};

/// The cost of new hashes.
const M_COST: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
const OUT_LEN: usize = 32;

/// Stored strings are not trusted blindly: parameters beyond these are
/// refused (a tampered row must not make one login take minutes or GiB).
const MAX_M_COST: u32 = 1024 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 16;

/// Hashes a password with a fresh salt.
pub fn hash(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no OS randomness: {e}"))?;
    hash_with(password, &salt, M_COST, T_COST, P_COST)
}

fn hash_with(password: &str, salt: &[u8], m: u32, t: u32, p: u32) -> Result<String, String> {
    let params = Params::new(m, t, p, Some(OUT_LEN)).map_err(|e| format!("argon2 parameters: {e}"))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_customized(password.as_bytes(), salt, None, None, params)
        .map(|h| h.to_string())
        .map_err(|e| format!("argon2: {e}"))
}

/// Whether `password` matches the PHC string `stored`, compared in
/// constant time. A string that is not an Argon2id hash we could have
/// written, or whose cost is beyond the bounds, never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else { return false };
    if hash.algorithm.as_str() != "argon2id" || hash.version != Some(0x13) {
        return false;
    }
    let Ok(params) = Params::try_from(&hash) else { return false };
    if params.m_cost() > MAX_M_COST || params.t_cost() > MAX_T_COST || params.p_cost() > MAX_P_COST {
        return false;
    }
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params).verify_password(password.as_bytes(), &hash).is_ok()
}

/// A hash of a password nobody has: verifying against it costs what a
/// real check costs, so an unknown user name takes as long as a wrong
/// password.
pub fn decoy() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
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

    /// A hash the earlier, hand-written PHC code stored: users keep
    /// their passwords across the change.
    #[test]
    fn hashes_stored_before_still_verify() {
        let stored =
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0MTIzNA$vWSoMy/UBm7ShOEEO3CVOYYYpe0ltdjB2r2WSXbPFfc";
        assert!(verify("correct horse", stored));
        assert!(!verify("correct horsf", stored));
        assert_eq!(hash_with("correct horse", b"saltsaltsalt1234", M_COST, T_COST, P_COST).unwrap(), stored);
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
}
