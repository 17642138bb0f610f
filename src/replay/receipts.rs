//! The replay's receipt printer: per committed sale, the receipt's text (`.txt`, the
//! layout's plain rendering) and its picture (`.png`: the layout encoded to ESC/POS and
//! printed by the virtual printer on 80 mm paper), each written whole (temporary file,
//! then rename) so a kill never leaves half a receipt.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use konbini_firmware::DOTS_80MM;

use konbini_devices::printer::{
    ReceiptBarcodes, encode_receipt_with, encode_sale_receipt, render, write_whole,
};
use konbini_devices::receipt::{COLUMNS_80MM, Receipt};
use konbini_journal::SaleRecord;

/// A directory receipts are printed into.
#[derive(Debug, Clone)]
pub struct ReceiptDir {
    dir: PathBuf,
    barcodes: ReceiptBarcodes,
}

impl ReceiptDir {
    /// Receipts go into `dir`, created if missing.
    pub fn create(dir: &Path) -> std::io::Result<ReceiptDir> {
        fs::create_dir_all(dir)?;
        Ok(ReceiptDir {
            dir: dir.to_owned(),
            barcodes: ReceiptBarcodes::default(),
        })
    }

    /// Receipts printed here carry the bar codes `barcodes` asks for.
    pub fn with_barcodes(mut self, barcodes: ReceiptBarcodes) -> ReceiptDir {
        self.barcodes = barcodes;
        self
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Print `sale`'s receipt as `<receipt number>.png` and `<receipt number>.txt`.
    /// Printing the same sale again writes the same files. Returns the `.txt` path.
    pub fn print(&self, sale: &SaleRecord) -> std::io::Result<PathBuf> {
        let job = encode_sale_receipt(sale, COLUMNS_80MM, self.barcodes);
        self.write(&Receipt::for_sale(sale), &job)
    }

    /// Print any receipt (a sale's, a Z report) as `<number>.png` and `<number>.txt`.
    pub fn print_receipt(&self, receipt: &Receipt) -> std::io::Result<PathBuf> {
        let job = encode_receipt_with(receipt, COLUMNS_80MM, self.barcodes, &[]);
        self.write(receipt, &job)
    }

    /// `job` printed by the virtual printer as `<number>.png`, `receipt` as `<number>.txt`.
    fn write(&self, receipt: &Receipt, job: &[u8]) -> std::io::Result<PathBuf> {
        let (sheet, _) = render(job, DOTS_80MM).map_err(std::io::Error::other)?;
        let png = sheet.png_bytes().map_err(std::io::Error::other)?;
        write_whole(&self.dir.join(format!("{}.png", receipt.number)), &png)?;
        let path = self.dir.join(format!("{}.txt", receipt.number));
        let tmp = self.dir.join(format!(".{}.txt.tmp", receipt.number));
        let mut file = fs::File::create(&tmp)?;
        file.write_all(receipt.to_text(COLUMNS_80MM).as_bytes())?;
        file.sync_data()?;
        fs::rename(&tmp, &path)?;
        Ok(path)
    }
}
