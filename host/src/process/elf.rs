//! Reading what an ELF file asks the kernel and the dynamic loader to load with it: its
//! interpreter (`PT_INTERP`), its library search path (`DT_RPATH`, `DT_RUNPATH`), and its
//! GNU build id, which a copy of a binary keeps even with bytes appended. Only the program
//! headers are read (sections may be stripped); every offset is bounds-checked, so a
//! malformed file gives an error, never a panic.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

const PT_LOAD: u64 = 1;
const PT_DYNAMIC: u64 = 2;
const PT_INTERP: u64 = 3;
const PT_NOTE: u64 = 4;
const DT_NULL: u64 = 0;
const DT_STRTAB: u64 = 5;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;
const NT_GNU_BUILD_ID: u64 = 3;
/// Most program headers read.
const MAX_PROGRAM_HEADERS: u64 = 512;
/// Most dynamic entries read.
const MAX_DYNAMIC_ENTRIES: u64 = 4096;
/// Longest string read from the file (a path).
const MAX_STRING: usize = 4096;

/// One program header.
#[derive(Debug, Clone, Copy)]
struct Segment {
    kind: u64,
    offset: u64,
    vaddr: u64,
    filesz: u64,
}

/// An ELF file's header facts and program headers.
pub(crate) struct Elf<'a> {
    file: &'a File,
    wide: bool,
    little: bool,
    segments: Vec<Segment>,
}

impl<'a> Elf<'a> {
    /// Parse the header and program headers; `Ok(None)` when the file is not ELF.
    pub(crate) fn read(file: &'a File) -> Result<Option<Elf<'a>>, &'static str> {
        let mut header = [0u8; 64];
        let read = file
            .read_at(&mut header, 0)
            .map_err(|_| "unreadable ELF header")?;
        if read < 4 || &header[..4] != b"\x7fELF" {
            return Ok(None);
        }
        if read < 52 {
            return Err("truncated ELF header");
        }
        let wide = match header[4] {
            1 => false,
            2 => true,
            _ => return Err("unknown ELF class"),
        };
        let little = match header[5] {
            1 => true,
            2 => false,
            _ => return Err("unknown ELF byte order"),
        };
        let mut elf = Elf {
            file,
            wide,
            little,
            segments: Vec::new(),
        };
        let (phoff, phentsize, phnum) = if wide {
            (
                elf.u64_at(&header, 32),
                elf.u16_at(&header, 54),
                elf.u16_at(&header, 56),
            )
        } else {
            (
                elf.u32_at(&header, 28),
                elf.u16_at(&header, 42),
                elf.u16_at(&header, 44),
            )
        };
        let minimum = if wide { 56 } else { 32 };
        if phnum > MAX_PROGRAM_HEADERS || (phnum > 0 && (phentsize < minimum || phentsize > 256)) {
            return Err("implausible ELF program headers");
        }
        let mut entry = vec![0u8; phentsize as usize];
        for index in 0..phnum {
            let offset = phoff
                .checked_add(index * phentsize)
                .ok_or("program header offset overflows")?;
            elf.read_exact(&mut entry, offset)?;
            let segment = if wide {
                Segment {
                    kind: elf.u32_at(&entry, 0),
                    offset: elf.u64_at(&entry, 8),
                    vaddr: elf.u64_at(&entry, 16),
                    filesz: elf.u64_at(&entry, 32),
                }
            } else {
                Segment {
                    kind: elf.u32_at(&entry, 0),
                    offset: elf.u32_at(&entry, 4),
                    vaddr: elf.u32_at(&entry, 8),
                    filesz: elf.u32_at(&entry, 16),
                }
            };
            elf.segments.push(segment);
        }
        Ok(Some(elf))
    }

    fn read_exact(&self, buffer: &mut [u8], offset: u64) -> Result<(), &'static str> {
        let read = self
            .file
            .read_at(buffer, offset)
            .map_err(|_| "unreadable ELF data")?;
        if read < buffer.len() {
            return Err("truncated ELF data");
        }
        Ok(())
    }

    fn u16_at(&self, bytes: &[u8], at: usize) -> u64 {
        let pair = [bytes[at], bytes[at + 1]];
        u64::from(if self.little {
            u16::from_le_bytes(pair)
        } else {
            u16::from_be_bytes(pair)
        })
    }

    fn u32_at(&self, bytes: &[u8], at: usize) -> u64 {
        let quad = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        u64::from(if self.little {
            u32::from_le_bytes(quad)
        } else {
            u32::from_be_bytes(quad)
        })
    }

    fn u64_at(&self, bytes: &[u8], at: usize) -> u64 {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(&bytes[at..at + 8]);
        if self.little {
            u64::from_le_bytes(eight)
        } else {
            u64::from_be_bytes(eight)
        }
    }

    /// A NUL-terminated string at file offset `offset`.
    fn string_at(&self, offset: u64) -> Result<String, &'static str> {
        let mut buffer = vec![0u8; MAX_STRING];
        let read = self
            .file
            .read_at(&mut buffer, offset)
            .map_err(|_| "unreadable ELF string")?;
        let text = &buffer[..read];
        let end = text
            .iter()
            .position(|byte| *byte == 0)
            .ok_or("unterminated ELF string")?;
        Ok(String::from_utf8_lossy(&text[..end]).into_owned())
    }

    /// The file offset of virtual address `address`, through the loadable segments.
    fn offset_of(&self, address: u64) -> Option<u64> {
        self.segments.iter().find_map(|segment| {
            (segment.kind == PT_LOAD
                && address >= segment.vaddr
                && address - segment.vaddr < segment.filesz)
                .then(|| segment.offset + (address - segment.vaddr))
        })
    }

    /// `PT_INTERP`: the dynamic loader the kernel runs for this file, if any.
    pub(crate) fn interpreter(&self) -> Result<Option<PathBuf>, &'static str> {
        let Some(segment) = self
            .segments
            .iter()
            .find(|segment| segment.kind == PT_INTERP)
        else {
            return Ok(None);
        };
        if segment.filesz == 0 || segment.filesz > MAX_STRING as u64 {
            return Err("implausible PT_INTERP size");
        }
        Ok(Some(PathBuf::from(self.string_at(segment.offset)?)))
    }

    /// The directories of `DT_RPATH` and `DT_RUNPATH`, as written (`$ORIGIN` unexpanded).
    pub(crate) fn search_paths(&self) -> Result<Vec<String>, &'static str> {
        let Some(dynamic) = self
            .segments
            .iter()
            .find(|segment| segment.kind == PT_DYNAMIC)
        else {
            return Ok(Vec::new());
        };
        let entry_size: u64 = if self.wide { 16 } else { 8 };
        let count = (dynamic.filesz / entry_size).min(MAX_DYNAMIC_ENTRIES);
        let mut entry = vec![0u8; entry_size as usize];
        let mut strtab = None;
        let mut paths = Vec::new();
        for index in 0..count {
            self.read_exact(&mut entry, dynamic.offset + index * entry_size)?;
            let (tag, value) = if self.wide {
                (self.u64_at(&entry, 0), self.u64_at(&entry, 8))
            } else {
                (self.u32_at(&entry, 0), self.u32_at(&entry, 4))
            };
            match tag {
                DT_NULL => break,
                DT_STRTAB => strtab = Some(value),
                DT_RPATH | DT_RUNPATH => paths.push(value),
                _ => {}
            }
        }
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let table = strtab
            .and_then(|address| self.offset_of(address))
            .ok_or("DT_STRTAB outside the file")?;
        let mut directories = Vec::new();
        for offset in paths {
            let text =
                self.string_at(table.checked_add(offset).ok_or("string offset overflows")?)?;
            directories.extend(
                text.split(':')
                    .filter(|dir| !dir.is_empty())
                    .map(str::to_string),
            );
        }
        Ok(directories)
    }

    /// The GNU build id, if the file carries one.
    pub(crate) fn build_id(&self) -> Option<Vec<u8>> {
        for segment in self
            .segments
            .iter()
            .filter(|segment| segment.kind == PT_NOTE)
        {
            let size = usize::try_from(segment.filesz).ok()?.min(1 << 16);
            let mut notes = vec![0u8; size];
            self.read_exact(&mut notes, segment.offset).ok()?;
            let mut at = 0usize;
            while at + 12 <= notes.len() {
                let name_size = self.u32_at(&notes, at) as usize;
                let desc_size = self.u32_at(&notes, at + 4) as usize;
                let kind = self.u32_at(&notes, at + 8);
                let name_start = at + 12;
                let desc_start = name_start + name_size.div_ceil(4) * 4;
                let next = desc_start + desc_size.div_ceil(4) * 4;
                if next > notes.len() {
                    break;
                }
                if kind == NT_GNU_BUILD_ID
                    && notes[name_start..name_start + name_size].starts_with(b"GNU")
                {
                    return Some(notes[desc_start..desc_start + desc_size].to_vec());
                }
                at = next;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_system_binary_names_its_loader_and_build_id() {
        let touch = File::open("/usr/bin/touch").unwrap();
        let elf = Elf::read(&touch).unwrap().expect("touch is ELF");
        let interp = elf.interpreter().unwrap().expect("touch is dynamic");
        assert!(
            interp.to_string_lossy().contains("ld-"),
            "{}",
            interp.display()
        );
        assert!(elf.build_id().is_some_and(|id| id.len() >= 16));
        assert!(elf.search_paths().unwrap().is_empty());
        let text = File::open("/etc/hostname").unwrap();
        assert!(Elf::read(&text).unwrap().is_none());
    }

    #[test]
    fn a_truncated_elf_is_an_error_not_a_panic() {
        let tmp = tempfile::tempdir().unwrap();
        let bytes = std::fs::read("/usr/bin/touch").unwrap();
        for cut in [5, 40, 64, 200, 1000] {
            let path = tmp.path().join(format!("cut-{cut}"));
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let file = File::open(&path).unwrap();
            if let Ok(Some(elf)) = Elf::read(&file) {
                let _ = elf.interpreter();
                let _ = elf.search_paths();
                let _ = elf.build_id();
            }
        }
    }
}
