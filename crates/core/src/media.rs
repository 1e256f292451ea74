//! The port for what Confab learns from a file's bytes: thumbnails of
//! images and text for search. Pure computation over bytes in memory; the
//! service runs it off the async threads, a file at a time.

use crate::Result;

/// A thumbnail made from an image, its metadata (EXIF, GPS) left behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thumbnail {
    /// The bound it was made for: its longer side is at most this.
    pub size: u32,
    pub width: u32,
    pub height: u32,
    /// `image/jpeg`, or `image/png` for images with transparency.
    pub mime: &'static str,
    pub bytes: Vec<u8>,
}

/// Thumbnails and text from file bytes.
pub trait FileInspector: Send + Sync {
    /// Whether thumbnails can be made of this (sniffed) type.
    fn makes_thumbnails(&self, mime: &str) -> bool;
    /// Thumbnails of an image, one per size of `sizes` (never larger than
    /// the image), with its EXIF orientation applied. A decompression bomb,
    /// a truncated or corrupt image is an error for this file alone.
    fn thumbnails(&self, mime: &str, bytes: &[u8], sizes: &[u32]) -> Result<Vec<Thumbnail>>;
    /// The text of a file for search, at most `max_chars` characters;
    /// `None` for types that carry no text Confab can read.
    fn extract_text(&self, mime: &str, bytes: &[u8], max_chars: usize) -> Result<Option<String>>;
    /// Whether [`Self::extract_text`] needs a file's bytes whole (a PDF's
    /// index is at its end) rather than its first ones.
    fn reads_whole_file(&self, mime: &str) -> bool {
        let _ = mime;
        false
    }
}

/// What a virus scanner found in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanVerdict {
    Clean,
    /// Infected, with the name of what was found.
    Infected(String),
}

/// A virus scanner that reads a file's bytes as a stream.
#[async_trait::async_trait]
pub trait VirusScanner: Send + Sync {
    /// The scanner's name, as recorded with each verdict.
    fn engine(&self) -> &'static str;
    /// Scan the bytes; an error when the scanner could not say.
    async fn scan(&self, body: crate::blobs::ByteStream) -> Result<ScanVerdict>;
}
