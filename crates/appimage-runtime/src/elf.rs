//! Where an AppImage's squashfs starts: right after the runtime's ELF file, whose last
//! part is its section-header table (`e_shoff + e_shnum * e_shentsize`), as in the
//! AppImage reference runtime. Both ELF classes and byte orders are read, so a runtime
//! for another architecture can be inspected too.

/// `AI` and the AppImage type, at offset 8 of the file (`EI_PAD`, unused by ELF).
pub const MAGIC: [u8; 3] = *b"AI\x02";
/// Where [`MAGIC`] goes.
pub const MAGIC_OFFSET: usize = 8;
/// The first bytes of a (little-endian) squashfs superblock: `hsqs`.
pub const SQUASHFS_MAGIC: [u8; 4] = *b"hsqs";

/// Why a file's head is not the ELF header of an AppImage runtime.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("it is too short to hold an ELF header")]
    TooShort,
    #[error("it does not start with an ELF header")]
    NotElf,
    #[error("its ELF class or byte order is unknown")]
    UnknownClass,
}

/// The offset of the first byte after the ELF file whose header starts `head` (at
/// least the first 64 bytes of the file).
pub fn payload_offset(head: &[u8]) -> Result<u64, HeaderError> {
    if head.len() < 16 {
        return Err(HeaderError::TooShort);
    }
    if head[..4] != *b"\x7fELF" {
        return Err(HeaderError::NotElf);
    }
    let big_endian = match head[5] {
        1 => false,
        2 => true,
        _ => return Err(HeaderError::UnknownClass),
    };
    // (e_shoff offset, its width, e_shentsize offset, e_shnum offset) per class.
    let (shoff_at, shoff_width, shentsize_at, shnum_at, header_len) = match head[4] {
        1 => (0x20, 4, 0x2e, 0x30, 52),
        2 => (0x28, 8, 0x3a, 0x3c, 64),
        _ => return Err(HeaderError::UnknownClass),
    };
    if head.len() < header_len {
        return Err(HeaderError::TooShort);
    }
    let read = |at: usize, width: usize| -> u64 {
        let bytes = &head[at..at + width];
        let fold = |acc: u64, byte: &u8| (acc << 8) | u64::from(*byte);
        if big_endian {
            bytes.iter().fold(0, fold)
        } else {
            bytes.iter().rev().fold(0, fold)
        }
    };
    let section_headers = read(shoff_at, shoff_width);
    let entry_size = read(shentsize_at, 2);
    let entries = read(shnum_at, 2);
    Ok(section_headers + entry_size * entries)
}

/// The AppImage type in `head`'s magic (2 for this runtime), if it carries one.
pub fn appimage_type(head: &[u8]) -> Option<u8> {
    let magic = head.get(MAGIC_OFFSET..MAGIC_OFFSET + 3)?;
    (magic[..2] == MAGIC[..2]).then_some(magic[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header64(shoff: u64, shentsize: u16, shnum: u16) -> Vec<u8> {
        let mut head = vec![0u8; 64];
        head[..4].copy_from_slice(b"\x7fELF");
        head[4] = 2; // ELFCLASS64
        head[5] = 1; // little-endian
        head[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        head[0x3a..0x3c].copy_from_slice(&shentsize.to_le_bytes());
        head[0x3c..0x3e].copy_from_slice(&shnum.to_le_bytes());
        head
    }

    #[test]
    fn offset_is_the_end_of_the_section_header_table() {
        assert_eq!(
            payload_offset(&header64(0x1_0000, 64, 30)),
            Ok(0x1_0000 + 64 * 30)
        );
    }

    #[test]
    fn thirty_two_bit_big_endian_headers_are_read_too() {
        let mut head = vec![0u8; 52];
        head[..4].copy_from_slice(b"\x7fELF");
        head[4] = 1;
        head[5] = 2;
        head[0x20..0x24].copy_from_slice(&0x2000u32.to_be_bytes());
        head[0x2e..0x30].copy_from_slice(&40u16.to_be_bytes());
        head[0x30..0x32].copy_from_slice(&12u16.to_be_bytes());
        assert_eq!(payload_offset(&head), Ok(0x2000 + 40 * 12));
    }

    #[test]
    fn what_is_not_an_elf_header_is_refused() {
        assert_eq!(payload_offset(b"#!/bin/sh\n"), Err(HeaderError::TooShort));
        assert_eq!(payload_offset(&[b'h'; 64]), Err(HeaderError::NotElf));
        let mut head = header64(0, 0, 0);
        head[4] = 3;
        assert_eq!(payload_offset(&head), Err(HeaderError::UnknownClass));
        assert_eq!(
            payload_offset(&header64(0, 0, 0)[..40]),
            Err(HeaderError::TooShort)
        );
    }

    #[test]
    fn the_magic_names_the_type() {
        let mut head = header64(0, 0, 0);
        assert_eq!(appimage_type(&head), None);
        head[MAGIC_OFFSET..MAGIC_OFFSET + 3].copy_from_slice(&MAGIC);
        assert_eq!(appimage_type(&head), Some(2));
        assert_eq!(appimage_type(&head[..9]), None);
    }

    #[test]
    fn this_test_binary_payload_offset_is_its_own_length() {
        // An ELF with nothing appended ends where its section headers end.
        let exe = std::env::current_exe().unwrap();
        let bytes = std::fs::read(&exe).unwrap();
        assert_eq!(payload_offset(&bytes), Ok(bytes.len() as u64));
    }
}
