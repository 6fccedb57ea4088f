//! Which files the paths on the command line name.

use std::path::{Path, PathBuf};

/// Every trace `paths` name: files as given, and the `*.trace` files of directories (sorted,
/// not recursive). An error names the path that could not be read, or a directory without
/// traces.
pub fn trace_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let found = traces_in(path)?;
            if found.is_empty() {
                return Err(format!(
                    "{}: no *.trace files in this directory",
                    path.display()
                ));
            }
            files.extend(found);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(format!("{}: no such file or directory", path.display()));
        }
    }
    Ok(files)
}

fn traces_in(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.extension().is_some_and(|ext| ext == "trace") && path.is_file() {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}
