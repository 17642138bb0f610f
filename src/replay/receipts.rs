//! The replay's receipt printer: per committed sale, the receipt's text (`.txt`, the
//! layout's plain rendering) and its picture (`.png`: the layout encoded to ESC/POS and
//! printed by the virtual printer on 80 mm paper), each written whole (temporary file,
//! then rename) so a kill never leaves half a receipt.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use konbini_firmware::DOTS_80MM;

use konbini_devices::printer::{
    ReceiptBarcodes, encode_receipt_with, encode_sale_receipt_styled, render, write_whole,
};
use konbini_devices::receipt::{COLUMNS_80MM, Receipt, ReceiptStyle, Reprint};
use konbini_journal::SaleRecord;

/// A directory receipts are printed into.
#[derive(Debug, Clone)]
pub struct ReceiptDir {
    dir: PathBuf,
    barcodes: ReceiptBarcodes,
    style: ReceiptStyle,
}

impl ReceiptDir {
    /// Receipts go into `dir`, created if missing.
    pub fn create(dir: &Path) -> std::io::Result<ReceiptDir> {
        fs::create_dir_all(dir)?;
        Ok(ReceiptDir {
            dir: dir.to_owned(),
            barcodes: ReceiptBarcodes::default(),
            style: ReceiptStyle::default(),
        })
    }

    /// Receipts printed here follow `style` (language, stamp duty).
    pub fn with_style(mut self, style: ReceiptStyle) -> ReceiptDir {
        self.style = style;
        self
    }

    /// The style receipts printed here follow.
    pub fn style(&self) -> &ReceiptStyle {
        &self.style
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
        let job = encode_sale_receipt_styled(sale, COLUMNS_80MM, self.barcodes, &self.style, None);
        self.write(&Receipt::for_sale_styled(sale, &self.style, None), &job)
    }

    /// Print `sale`'s receipt again, marked 再発行 (reprint) with its number, printed at
    /// `at`, as `<number>-R<n>.png/.txt` with the first `n` not yet taken: a reprint never
    /// overwrites the receipt or an earlier reprint. Returns the `.txt` path.
    pub fn reprint(&self, sale: &SaleRecord, at: &str) -> std::io::Result<PathBuf> {
        let number = konbini_devices::receipt::receipt_number(sale);
        let count = (1u32..)
            .find(|n| !self.dir.join(format!("{number}-R{n}.txt")).exists())
            .unwrap_or(u32::MAX);
        let reprint = Reprint {
            count,
            at: at.to_owned(),
        };
        let job = encode_sale_receipt_styled(
            sale,
            COLUMNS_80MM,
            self.barcodes,
            &self.style,
            Some(&reprint),
        );
        self.write(
            &Receipt::for_sale_styled(sale, &self.style, Some(&reprint)),
            &job,
        )
    }

    /// Print any receipt (a sale's, a Z report) as `<number>.png` and `<number>.txt`
    /// (replacing files of that number: a Z report's number is never used twice).
    pub fn print_receipt(&self, receipt: &Receipt) -> std::io::Result<PathBuf> {
        let job = encode_receipt_with(receipt, COLUMNS_80MM, self.barcodes, &[]);
        self.write(receipt, &job)
    }

    /// Print a receipt printed before again, as `<number>-R<n>.png/.txt` with the first
    /// `n` not yet taken: never over the first print or an earlier copy.
    pub fn print_receipt_again(&self, receipt: &Receipt) -> std::io::Result<PathBuf> {
        let count = (1u32..)
            .find(|n| {
                !self
                    .dir
                    .join(format!("{}-R{n}.txt", receipt.number))
                    .exists()
            })
            .unwrap_or(u32::MAX);
        let mut copy = receipt.clone();
        copy.number = format!("{}-R{count}", receipt.number);
        self.print_receipt(&copy)
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
