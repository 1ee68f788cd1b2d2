//! gzip in the guest, with flate2's pure-Rust backend (miniz_oxide): no C library, so it
//! builds for wasm32-wasip2. The header carries no name and no time, so the same bytes
//! always compress to the same archive.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

/// `data`, gzip-compressed at the default level.
pub(crate) fn compress(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 4), Compression::default());
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .map_err(|error| format!("cannot compress: {error}"))
}

/// The bytes gzip `data` holds, checked against its CRC and length; more than `limit`
/// bytes is an error, found before they are all held.
pub(crate) fn decompress(data: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    GzDecoder::new(data)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|error| format!("not a whole gzip archive: {error}"))?;
    if out.len() as u64 > limit {
        return Err(format!("holds more than the {limit} bytes expected"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_round_trip_and_are_smaller_for_logs() {
        let log: Vec<u8> = (0..2_000)
            .flat_map(|line| {
                format!("2026-01-01T00:00:00Z INFO request {line} served\n").into_bytes()
            })
            .collect();
        let packed = compress(&log).unwrap();
        assert!(
            packed.len() * 5 < log.len(),
            "{} of {}",
            packed.len(),
            log.len()
        );
        assert_eq!(&packed[..2], &[0x1f, 0x8b], "gzip magic");
        assert_eq!(decompress(&packed, log.len() as u64), Ok(log.clone()));
        assert_eq!(compress(&log).unwrap(), packed, "deterministic");
        assert_eq!(decompress(&compress(b"").unwrap(), 0), Ok(Vec::new()));
    }

    #[test]
    fn damaged_or_oversized_archives_are_refused() {
        let packed = compress(b"hello, log\n").unwrap();
        assert_eq!(
            decompress(&packed, 5),
            Err("holds more than the 5 bytes expected".to_string())
        );
        let mut damaged = packed.clone();
        let crc_at = damaged.len() - 8;
        damaged[crc_at] ^= 0xff;
        assert_eq!(
            decompress(&damaged, 100),
            Err(
                "not a whole gzip archive: corrupt gzip stream does not have a matching checksum"
                    .to_string()
            )
        );
        assert_eq!(
            decompress(&packed[..packed.len() - 4], 100),
            Err("not a whole gzip archive: unexpected end of file".to_string())
        );
    }
}
