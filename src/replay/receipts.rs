//! The replay's receipt printer: one file per committed sale in a directory, written whole
//! (temporary file, then rename) so a kill never leaves half a receipt.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::journal::SaleRecord;
use crate::receipt::{COLUMNS_80MM, Receipt};

/// A directory receipts are printed into.
#[derive(Debug)]
pub struct ReceiptDir {
    dir: PathBuf,
}

impl ReceiptDir {
    /// Receipts go into `dir`, created if missing.
    pub fn create(dir: &Path) -> std::io::Result<ReceiptDir> {
        fs::create_dir_all(dir)?;
        Ok(ReceiptDir {
            dir: dir.to_owned(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Print `sale`'s receipt as `<receipt number>.txt`. Printing the same sale again
    /// writes the same file.
    pub fn print(&self, sale: &SaleRecord) -> std::io::Result<PathBuf> {
        let receipt = Receipt::for_sale(sale);
        let path = self.dir.join(format!("{}.txt", receipt.number));
        let tmp = self.dir.join(format!(".{}.txt.tmp", receipt.number));
        let mut file = fs::File::create(&tmp)?;
        file.write_all(receipt.to_text(COLUMNS_80MM).as_bytes())?;
        file.sync_data()?;
        fs::rename(&tmp, &path)?;
        Ok(path)
    }
}
