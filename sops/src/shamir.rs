//! Shamir's secret sharing as SOPS uses it (HashiCorp Vault's scheme): each part is the
//! share's bytes followed by its x coordinate, over GF(2^8) with the AES polynomial; the
//! secret is every byte's polynomial evaluated at zero.

/// Why parts cannot be combined.
#[derive(Debug, thiserror::Error)]
pub enum ShamirError {
    /// Fewer than two parts, or parts of different or too short lengths.
    #[error("the key group parts cannot be combined (need at least two parts of equal length)")]
    Shape,
    /// Two parts share their x coordinate.
    #[error("two key group parts are the same share")]
    Duplicate,
}

fn mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            product ^= a;
        }
        let carry = a & 0x80 != 0;
        a <<= 1;
        if carry {
            a ^= 0x1b;
        }
        b >>= 1;
    }
    product
}

fn inverse(a: u8) -> u8 {
    // a^254 = a^-1 in GF(2^8).
    let mut result = 1u8;
    let mut base = a;
    let mut exp = 254u8;
    while exp != 0 {
        if exp & 1 != 0 {
            result = mul(result, base);
        }
        base = mul(base, base);
        exp >>= 1;
    }
    result
}

/// Combines parts back into the secret.
pub fn combine(parts: &[Vec<u8>]) -> Result<Vec<u8>, ShamirError> {
    let len = parts.first().map_or(0, Vec::len);
    if parts.len() < 2 || len < 2 || parts.iter().any(|p| p.len() != len) {
        return Err(ShamirError::Shape);
    }
    let xs: Vec<u8> = parts.iter().map(|p| p[len - 1]).collect();
    for (i, x) in xs.iter().enumerate() {
        if xs[..i].contains(x) {
            return Err(ShamirError::Duplicate);
        }
    }
    let mut secret = vec![0u8; len - 1];
    for (byte, out) in secret.iter_mut().enumerate() {
        let mut value = 0u8;
        for (i, part) in parts.iter().enumerate() {
            // Lagrange basis at x = 0: prod x_j / (x_i - x_j), subtraction being xor.
            let mut basis = 1u8;
            for (j, xj) in xs.iter().enumerate() {
                if i != j {
                    basis = mul(basis, mul(*xj, inverse(xs[i] ^ xj)));
                }
            }
            value ^= mul(part[byte], basis);
        }
        *out = value;
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits with fixed coefficients (degree threshold - 1) at the given x coordinates.
    fn split(secret: &[u8], coefficients: &[u8], xs: &[u8]) -> Vec<Vec<u8>> {
        xs.iter()
            .map(|&x| {
                let mut part: Vec<u8> = secret
                    .iter()
                    .map(|&s| {
                        let mut y = 0u8;
                        let mut power = 1u8;
                        for c in std::iter::once(&s).chain(coefficients) {
                            y ^= mul(*c, power);
                            power = mul(power, x);
                        }
                        y
                    })
                    .collect();
                part.push(x);
                part
            })
            .collect()
    }

    #[test]
    fn field_arithmetic() {
        assert_eq!(mul(0x57, 0x83), 0xc1);
        for a in 1..=255u8 {
            assert_eq!(mul(a, inverse(a)), 1, "{a}");
        }
    }

    #[test]
    fn any_threshold_of_parts_gives_the_secret() {
        let secret: Vec<u8> = (0..32).collect();
        let parts = split(&secret, &[0x11, 0xfe], &[3, 77, 200, 9]);
        assert_eq!(combine(&parts[..3]).unwrap(), secret);
        assert_eq!(combine(&parts[1..]).unwrap(), secret);
        assert_ne!(combine(&parts[..2]).unwrap(), secret);
        assert!(combine(&parts[..1]).is_err());
        assert!(combine(&[parts[0].clone(), parts[0].clone()]).is_err());
    }
}
