//! The archive format, both ways: a directory into tar + zstd, and tar +
//! zstd back into a directory, refusing anything that could write outside it.
//!
//! Packing walks the directory in name order (so two snapshots of the same
//! world are byte-identical tars) and stores links as links. Unpacking is
//! written out by hand rather than with `tar`'s `unpack_in`, because that one
//! creates device files and symlinks pointing anywhere: here absolute paths,
//! `..`, links whose target leaves the root and device/fifo entries are
//! errors, and files are created with `create_new`, so nothing is written
//! through a link planted by an earlier entry.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use super::{WorldError, io};

/// zstd's default level: several times faster than gzip -6 and at least as
/// small on region files (whose chunks are already zlib-compressed).
pub const ZSTD_LEVEL: i32 = 3;

/// Write `dir` as tar + zstd into `out`; returns how many regular files and bytes it packed.
pub fn pack(dir: &Path, out: impl Write) -> Result<Packed, WorldError> {
    let enc = zstd::Encoder::new(out, ZSTD_LEVEL).map_err(io(dir))?;
    let mut tar = tar::Builder::new(enc);
    tar.follow_symlinks(false);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut packed = Packed::default();
    walk(dir, Path::new(""), &mut tar, &mut packed)?;
    let enc = tar.into_inner().map_err(io(dir))?;
    enc.finish().map_err(io(dir))?.flush().map_err(io(dir))?;
    Ok(packed)
}

/// What [`pack`] found while it walked the tree, so nothing walks it twice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Packed {
    /// Regular files packed.
    pub files: u64,
    /// Their sizes added up: the world's size on disk, uncompressed.
    pub bytes: u64,
}

fn walk<W: Write>(root: &Path, rel: &Path, tar: &mut tar::Builder<W>, packed: &mut Packed) -> Result<(), WorldError> {
    let here = root.join(rel);
    let mut entries: Vec<_> = std::fs::read_dir(&here)
        .map_err(io(&here))?
        .collect::<Result<_, _>>()
        .map_err(io(&here))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = rel.join(e.file_name());
        let kind = e.file_type().map_err(io(&path))?;
        if kind.is_dir() {
            tar.append_dir(&name, &path).map_err(io(&path))?;
            walk(root, &name, tar, packed)?;
        } else if kind.is_file() || kind.is_symlink() {
            tar.append_path_with_name(&path, &name).map_err(io(&path))?;
            if kind.is_file() {
                packed.files += 1;
                packed.bytes += e.metadata().map_err(io(&path))?.len();
            }
        }
        // Sockets and fifos in a world directory are not world data.
    }
    Ok(())
}

/// Unpack tar + zstd from `input` into the empty directory `root`; returns
/// the number of regular files.
pub fn unpack(input: impl Read, root: &Path) -> Result<u64, WorldError> {
    let dec = zstd::Decoder::new(input).map_err(io(root))?;
    let mut ar = tar::Archive::new(dec);
    let mut files = 0;
    for entry in ar.entries().map_err(io(root))? {
        let mut entry = entry.map_err(io(root))?;
        let raw = entry.path().map_err(io(root))?.into_owned();
        let shown = raw.display().to_string();
        let rel = inside(&raw).ok_or_else(|| refuse(&shown, "absolute or leaves the directory (..)"))?;
        if rel.as_os_str().is_empty() {
            continue; // "./" itself
        }
        let dest = root.join(&rel);
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            std::fs::create_dir_all(&dest).map_err(io(&dest))?;
            continue;
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&dest)
                    .map_err(io(&dest))?;
                std::io::copy(&mut entry, &mut f).map_err(io(&dest))?;
                files += 1;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(io(&dest))?
                    .ok_or_else(|| refuse(&shown, "a link without a target"))?;
                // Relative to the link's own directory, it must stay inside.
                let from = rel.parent().unwrap_or(Path::new("")).join(&target);
                if target.is_absolute() || normalise(&from).is_none() {
                    return Err(refuse(&shown, "a symlink pointing outside the directory"));
                }
                symlink(&target, &dest)?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(io(&dest))?
                    .ok_or_else(|| refuse(&shown, "a link without a target"))?;
                let t = inside(&target).ok_or_else(|| refuse(&shown, "a hard link to outside the directory"))?;
                std::fs::hard_link(root.join(t), &dest).map_err(io(&dest))?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                return Err(refuse(&shown, "a device or fifo, which a world never holds"));
            }
            // Extended headers are consumed by `tar` itself; anything else is unknown.
            tar::EntryType::XHeader | tar::EntryType::XGlobalHeader | tar::EntryType::GNULongName | tar::EntryType::GNULongLink => {}
            _ => return Err(refuse(&shown, "an entry type a world never holds")),
        }
    }
    Ok(files)
}

fn refuse(entry: &str, why: &'static str) -> WorldError {
    WorldError::Unsafe { entry: entry.into(), why }
}

/// The path as a relative one inside the root, or `None` if it is absolute
/// or has any `..`.
fn inside(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Resolve `..` lexically; `None` when it climbs above the start.
fn normalise(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

#[cfg(unix)]
fn symlink(target: &Path, dest: &Path) -> Result<(), WorldError> {
    std::os::unix::fs::symlink(target, dest).map_err(io(dest))
}

#[cfg(not(unix))]
fn symlink(_target: &Path, dest: &Path) -> Result<(), WorldError> {
    Err(refuse(&dest.display().to_string(), "symlinks are only restored on unix"))
}
