//! The Internet checksum (RFC 1071) and the TCP/UDP pseudo-header.

/// Adds `data`, as big-endian 16-bit words, to the running sum `initial`.
pub(crate) fn sum(data: &[u8], initial: u64) -> u64 {
    // The one's complement sum does not depend on byte order up to a final swap (RFC
    // 1071 2.B), so the loop adds host-order 32-bit words into 64-bit lanes, which the
    // compiler vectorises; that keeps it far below the AEAD's cost.
    let mut lanes = [0u64; 4];
    let mut chunks = data.chunks_exact(16);
    for chunk in &mut chunks {
        for (lane, word) in lanes.iter_mut().zip(chunk.chunks_exact(4)) {
            *lane += u64::from(u32::from_ne_bytes(word.try_into().expect("4 bytes")));
        }
    }
    let mut native: u64 = lanes.iter().sum();
    let mut words = chunks.remainder().chunks_exact(2);
    for word in &mut words {
        native += u64::from(u16::from_ne_bytes([word[0], word[1]]));
    }
    if let [last] = words.remainder() {
        native += u64::from(u16::from_ne_bytes([*last, 0]));
    }
    initial + u64::from(u16::from_be_bytes(fold(native).to_ne_bytes()))
}

/// Folds a running sum to 16 bits (not complemented).
pub(crate) fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The checksum to store: the complement of the folded sum.
pub(crate) fn finish(acc: u64) -> u16 {
    !fold(acc)
}

/// The pseudo-header's sum for a transport segment of `len` bytes between the addresses
/// (4 or 16 bytes each) under IP protocol `protocol`.
pub(crate) fn pseudo_header(source: &[u8], destination: &[u8], protocol: u8, len: usize) -> u64 {
    sum(source, 0) + sum(destination, 0) + u64::from(protocol) + len as u64
}

/// Recomputes an IPv4 header's checksum in place.
pub(crate) fn fix_ipv4_header(header: &mut [u8]) {
    header[10..12].fill(0);
    let checksum = finish(sum(header, 0));
    header[10..12].copy_from_slice(&checksum.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sixteen bits at a time, the way RFC 1071 writes it.
    fn reference(data: &[u8]) -> u16 {
        let mut acc = 0u32;
        for pair in data.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            acc += u32::from(word);
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        !(acc as u16)
    }

    #[test]
    fn matches_the_sixteen_bit_reference_at_every_length() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 97 + 13) as u8).collect();
        for len in 0..data.len() {
            assert_eq!(
                finish(sum(&data[..len], 0)),
                reference(&data[..len]),
                "{len}"
            );
        }
        let ones = vec![0xffu8; 1500];
        assert_eq!(finish(sum(&ones, 0)), reference(&ones));
    }

    #[test]
    fn rfc_1071_example() {
        // The worked example of RFC 1071 section 3: the sum is ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data, 0)), 0xddf2);
    }

    #[test]
    fn a_valid_ipv4_header_sums_to_zero() {
        let mut header = [
            0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0xde, 0xad, 0xc0, 0xa8, 0, 1, 0xc0, 0xa8,
            0, 0xc7,
        ];
        fix_ipv4_header(&mut header);
        assert_eq!(&header[10..12], &[0xb8, 0x61]);
        assert_eq!(finish(sum(&header, 0)), 0);
    }
}
