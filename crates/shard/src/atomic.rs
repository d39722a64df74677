//! Atomic writes: write a temporary file beside the target, fsync it, rename it over the target,
//! fsync the folder. A reader sees the old file or the new one, never a half-written one.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::ShardError;

/// A file being written that only appears at its final path on [`AtomicFile::commit`]. Dropped
/// without committing, its temporary file is removed.
pub struct AtomicFile {
    target: PathBuf,
    tmp: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Starts writing `target` (through `target` + `.tmp-<pid>`).
    pub fn create(target: impl Into<PathBuf>) -> Result<Self, ShardError> {
        let target = target.into();
        let mut tmp = target.clone().into_os_string();
        tmp.push(format!(".tmp-{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let file = File::create(&tmp).map_err(|e| ShardError::io(&tmp, e))?;
        Ok(AtomicFile { target, tmp, writer: Some(BufWriter::with_capacity(1 << 20, file)) })
    }

    /// The buffered writer of the temporary file.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.writer.as_mut().expect("writer present until commit")
    }

    /// The temporary path (for error messages).
    pub fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    /// Flushes, fsyncs and renames the file into place.
    pub fn commit(mut self) -> Result<(), ShardError> {
        let writer = self.writer.take().expect("commit once");
        let file = writer.into_inner().map_err(|e| ShardError::io(&self.tmp, e.into_error()))?;
        file.sync_all().map_err(|e| ShardError::io(&self.tmp, e))?;
        drop(file);
        fs::rename(&self.tmp, &self.target).map_err(|e| ShardError::io(&self.target, e))?;
        sync_parent(&self.target).map_err(|e| ShardError::io(&self.target, e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<(), ShardError> {
    let mut f = AtomicFile::create(path.as_ref())?;
    let tmp = f.tmp_path().to_path_buf();
    f.writer().write_all(bytes).map_err(|e| ShardError::io(tmp, e))?;
    f.commit()
}

fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => File::open(p)?.sync_all(),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.json");
        {
            let mut f = AtomicFile::create(&target).unwrap();
            f.writer().write_all(b"half").unwrap();
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        write_atomic(&target, b"whole").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"whole");
    }
}
