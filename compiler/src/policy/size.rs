//! Byte sizes and rates as written in policies: `2MiB`, `500KiB/s`, `1G`.

/// Parses a size into bytes. Binary units (`KiB`, `MiB`, `GiB`, and rsync's bare `K`, `M`,
/// `G`) count 1024s; `KB`, `MB`, `GB` count 1000s. An optional `/s` is allowed for rates.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let body = text.strip_suffix("/s").unwrap_or(text).trim();
    let digits_end = body
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(body.len());
    if digits_end == 0 {
        return Err(format!("`{text}` does not start with a number"));
    }
    let number: u64 = body[..digits_end]
        .parse()
        .map_err(|_| format!("`{}` is too large", &body[..digits_end]))?;
    let factor: u64 = match body[digits_end..].trim_start() {
        "" => return Err(format!("`{text}` has no unit; write e.g. \"{number}MiB\"")),
        "B" => 1,
        "K" | "k" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "T" | "TiB" => 1 << 40,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "unknown unit `{other}`; use B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB)"
            ))
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn units() {
        assert_eq!(parse_bytes("2MiB"), Ok(2 * 1024 * 1024));
        assert_eq!(parse_bytes("500KiB/s"), Ok(500 * 1024));
        assert_eq!(parse_bytes("1GB"), Ok(1_000_000_000));
        assert!(parse_bytes("2").is_err());
        assert!(parse_bytes("MiB").is_err());
        assert!(parse_bytes("2 parsecs").is_err());
        assert!(parse_bytes("99999999999999999999T").is_err());
    }
}
