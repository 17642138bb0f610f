//! The replay's receipt printer: per committed sale, the receipt's text (`.txt`, the
//! layout's plain rendering) and its picture (`.png`: the layout encoded to ESC/POS and
//! printed by the virtual printer on 80 mm paper), each written whole (temporary file,
//! then linked into place) so a kill never leaves half a receipt.
//!
//! A file printed here is never overwritten. Receipt and Z report numbers are unique only
//! within one journal, so when another journal's receipt (or anything else) already holds
//! a name, the print goes under `<number>-<journal id, 8 hex digits>` (then `-2`, `-3`,
//! ...) instead, and the caller says so ([`renamed`]). The same receipt printed again (a
//! resumed run printing what a killed one printed before it could mark the job done) finds
//! its own identical files and leaves them as they are.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use konbini_firmware::DOTS_80MM;

use konbini_devices::printer::{
    ReceiptBarcodes, encode_receipt_with, encode_sale_receipt_styled, render,
};
use konbini_devices::receipt::{COLUMNS_80MM, Receipt, ReceiptStyle, Reprint};
use konbini_journal::SaleRecord;

/// A directory receipts are printed into.
#[derive(Debug, Clone)]
pub struct ReceiptDir {
    dir: PathBuf,
    barcodes: ReceiptBarcodes,
    style: ReceiptStyle,
    /// The printing journal's id (its first 8 characters), for a name already taken.
    journal_tag: Option<String>,
}

/// Whether `path` (as a print returned it) is not the receipt's own `<number>.txt`: its
/// name was taken, and the print went under another name.
pub fn renamed(path: &Path, number: &str) -> bool {
    path.file_stem().and_then(|s| s.to_str()) != Some(number)
}

impl ReceiptDir {
    /// Receipts go into `dir`, created if missing.
    pub fn create(dir: &Path) -> std::io::Result<ReceiptDir> {
        fs::create_dir_all(dir)?;
        Ok(ReceiptDir {
            dir: dir.to_owned(),
            barcodes: ReceiptBarcodes::default(),
            style: ReceiptStyle::default(),
            journal_tag: None,
        })
    }

    /// Receipts printed here come from the journal `journal_id`: named in a file's name
    /// when another journal's receipt of the same number is there already.
    pub fn with_journal_id(mut self, journal_id: &str) -> ReceiptDir {
        let tag: String = journal_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(8)
            .collect();
        self.journal_tag = (!tag.is_empty()).then_some(tag);
        self
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

    /// Print `sale`'s receipt as `<receipt number>.png` and `<receipt number>.txt` (or
    /// another name when that one is taken: see the module). Printing the same sale again
    /// keeps the files it printed. Returns the `.txt` path.
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

    /// Print any receipt (a sale's, a Z report) as `<number>.png` and `<number>.txt`, never
    /// over a file already there (see the module). Returns the `.txt` path.
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

    /// `job` printed by the virtual printer as `<name>.png`, `receipt` as `<name>.txt`,
    /// `<name>` the first of [`ReceiptDir::names`] whose files are absent or already hold
    /// exactly these bytes.
    fn write(&self, receipt: &Receipt, job: &[u8]) -> std::io::Result<PathBuf> {
        let (sheet, _) = render(job, DOTS_80MM).map_err(std::io::Error::other)?;
        let png = sheet.png_bytes().map_err(std::io::Error::other)?;
        let text = receipt.to_text(COLUMNS_80MM);
        for name in self.names(&receipt.number) {
            let files = [
                (self.dir.join(format!("{name}.png")), png.as_slice()),
                (self.dir.join(format!("{name}.txt")), text.as_bytes()),
            ];
            if self.place(&files)? {
                return Ok(files[1].0.clone());
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!(
                "every name for receipt {} is taken in {}",
                receipt.number,
                self.dir.display()
            ),
        ))
    }

    /// The names a receipt numbered `number` may take, in order.
    fn names<'a>(&'a self, number: &'a str) -> impl Iterator<Item = String> + 'a {
        let base = match &self.journal_tag {
            Some(tag) => format!("{number}-{tag}"),
            None => number.to_owned(),
        };
        std::iter::once(number.to_owned())
            .chain(self.journal_tag.is_some().then(|| base.clone()))
            .chain((2..10_000u32).map(move |n| format!("{base}-{n}")))
    }

    /// Write each file that is missing, never over one already there. False (and nothing
    /// written) when one of them is there with other bytes: the name is taken.
    fn place(&self, files: &[(PathBuf, &[u8])]) -> std::io::Result<bool> {
        let mut missing = Vec::new();
        for (path, bytes) in files {
            match fs::read(path) {
                Ok(there) if there == *bytes => {}
                Ok(_) => return Ok(false),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing.push((path, bytes)),
                Err(e) => return Err(e),
            }
        }
        for (path, bytes) in missing {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let tmp = self.dir.join(format!(".{name}.tmp"));
            let linked = (|| {
                let mut file = fs::File::create(&tmp)?;
                file.write_all(bytes)?;
                file.sync_data()?;
                // A link is made only where no file is: never over one (a rename would).
                fs::hard_link(&tmp, path)
            })();
            let _ = fs::remove_file(&tmp);
            match linked {
                Ok(()) => {}
                // Taken meanwhile: what was written stays, the name is not ours.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        if let Ok(dir) = fs::File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use konbini_devices::receipt::Line;

    fn receipt(number: &str, text: &str) -> Receipt {
        Receipt {
            number: number.to_owned(),
            lines: vec![Line::Notice(text.to_owned())],
        }
    }

    #[test]
    fn a_name_taken_is_never_overwritten_and_the_same_print_keeps_its_files() {
        let tmp = tempfile::tempdir().unwrap();
        let a = ReceiptDir::create(tmp.path())
            .unwrap()
            .with_journal_id("0123abcdef");
        let b = ReceiptDir::create(tmp.path())
            .unwrap()
            .with_journal_id("feedbeef99");
        let first = a.print_receipt(&receipt("Z-T01-0001", "A")).unwrap();
        assert_eq!(first, tmp.path().join("Z-T01-0001.txt"));
        // Printed again (a resumed run): the same files, nothing new.
        assert_eq!(a.print_receipt(&receipt("Z-T01-0001", "A")).unwrap(), first);
        // Another journal's Z report of that number: under its id.
        let other = b.print_receipt(&receipt("Z-T01-0001", "B")).unwrap();
        assert_eq!(other, tmp.path().join("Z-T01-0001-feedbeef.txt"));
        assert!(renamed(&other, "Z-T01-0001") && !renamed(&first, "Z-T01-0001"));
        // Yet another with that id (a file put there by hand): a suffix.
        let third = b.print_receipt(&receipt("Z-T01-0001", "C")).unwrap();
        assert_eq!(third, tmp.path().join("Z-T01-0001-feedbeef-2.txt"));
        assert!(fs::read_to_string(&first).unwrap().contains('A'));
        assert!(fs::read_to_string(&other).unwrap().contains('B'));
        let mut names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names.len(), 6, "no temporary file left: {names:?}");
    }
}
