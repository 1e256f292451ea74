//! Thumbnails with the `image` crate, under decoder limits, and text from
//! text-like files and PDFs.

use std::io::Cursor;

use confab_core::media::{FileInspector, Thumbnail};
use confab_core::{Error, Result};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

/// The largest width or height decoded: beyond it an image is refused
/// before its pixels are allocated.
pub const MAX_DIMENSION: u32 = 12_000;
/// The most memory one decode may allocate.
pub const MAX_DECODE_BYTES: u64 = 256 << 20;

const THUMBNAIL_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// Confab's file inspector.
#[derive(Clone, Copy, Debug, Default)]
pub struct Inspector;

fn refused(err: impl std::fmt::Display) -> Error {
    Error::invalid("file", format!("cannot make a thumbnail: {err}"))
}

/// Whether a JPEG ends its last scan with an end-of-image marker. JPEG
/// decoders fill in what a cut file lacks; a file without the marker after
/// its last start-of-scan was cut short. (Inside a scan every 0xFF byte is
/// followed by 0x00, so the marker cannot appear by chance.)
fn is_whole_jpeg(bytes: &[u8]) -> bool {
    let marker = |code: u8| {
        bytes
            .windows(2)
            .rposition(move |w| w[0] == 0xFF && w[1] == code)
    };
    matches!((marker(0xDA), marker(0xD9)), (Some(scan), Some(end)) if end > scan)
}

fn decode(bytes: &[u8]) -> Result<DynamicImage> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(refused)?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(refused)?;
    let orientation = decoder.orientation().map_err(refused)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(refused)?;
    image.apply_orientation(orientation);
    Ok(image)
}

fn encode(image: &DynamicImage, size: u32) -> Result<Thumbnail> {
    let (width, height) = (image.width(), image.height());
    let small = if width.max(height) > size {
        image.thumbnail(size, size)
    } else {
        image.clone()
    };
    let mut bytes = Vec::new();
    let mime = if small.color().has_alpha() {
        small
            .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .map_err(refused)?;
        "image/png"
    } else {
        let rgb = small.to_rgb8();
        JpegEncoder::new_with_quality(&mut bytes, 80)
            .encode_image(&rgb)
            .map_err(refused)?;
        "image/jpeg"
    };
    Ok(Thumbnail {
        size,
        width: small.width(),
        height: small.height(),
        mime,
        bytes,
    })
}

/// Types whose bytes are text worth searching.
fn is_text(mime: &str) -> bool {
    mime.starts_with("text/") || matches!(mime, "application/json" | "application/xml")
}

impl FileInspector for Inspector {
    fn makes_thumbnails(&self, mime: &str) -> bool {
        THUMBNAIL_TYPES.contains(&mime)
    }

    fn thumbnails(&self, mime: &str, bytes: &[u8], sizes: &[u32]) -> Result<Vec<Thumbnail>> {
        if !self.makes_thumbnails(mime) {
            return Ok(Vec::new());
        }
        if mime == "image/jpeg" && !is_whole_jpeg(bytes) {
            return Err(refused("the JPEG is cut short"));
        }
        let image = decode(bytes)?;
        sizes.iter().map(|size| encode(&image, *size)).collect()
    }

    fn extract_text(&self, mime: &str, bytes: &[u8], max_chars: usize) -> Result<Option<String>> {
        let text = match mime {
            PDF => pdf_text(bytes)?,
            _ if is_text(mime) => String::from_utf8_lossy(bytes).into_owned(),
            _ => return Ok(None),
        };
        let text: String = text
            .chars()
            .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
            .take(max_chars)
            .collect();
        Ok(Some(text))
    }

    fn reads_whole_file(&self, mime: &str) -> bool {
        mime == PDF
    }
}

const PDF: &str = "application/pdf";

/// The text of a PDF's pages. The parser is not ours to trust: a document
/// that makes it fail, or panic, is an error for that file alone.
fn pdf_text(bytes: &[u8]) -> Result<String> {
    let unreadable = |why: String| Error::invalid("file", format!("cannot read the PDF: {why}"));
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pdf_extract::extract_text_from_mem(bytes)
    }));
    match parsed {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(e)) => Err(unreadable(e.to_string())),
        Err(_) => Err(unreadable("the parser gave up".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32, alpha: bool) -> Vec<u8> {
        let image = if alpha {
            DynamicImage::new_rgba8(width, height)
        } else {
            DynamicImage::new_rgb8(width, height)
        };
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        bytes
    }

    #[test]
    fn thumbnails_keep_the_aspect_and_never_grow() {
        let thumbs = Inspector
            .thumbnails("image/png", &png(800, 400, false), &[64, 360, 1000])
            .unwrap();
        let sizes: Vec<(u32, u32, &str)> =
            thumbs.iter().map(|t| (t.width, t.height, t.mime)).collect();
        assert_eq!(
            sizes,
            [
                (64, 32, "image/jpeg"),
                (360, 180, "image/jpeg"),
                (800, 400, "image/jpeg")
            ]
        );
        let transparent = Inspector
            .thumbnails("image/png", &png(10, 10, true), &[64])
            .unwrap();
        assert_eq!(transparent[0].mime, "image/png");
    }

    #[test]
    fn truncated_and_oversized_images_fail_alone() {
        let whole = png(100, 100, false);
        let cut = &whole[..whole.len() / 2];
        assert!(Inspector.thumbnails("image/png", cut, &[64]).is_err());
        let mut bomb = png(1, 1, false);
        // Rewrite the header's dimensions: 20,000 x 20,000.
        bomb[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&20_000u32.to_be_bytes());
        assert!(Inspector.thumbnails("image/png", &bomb, &[64]).is_err());
    }

    #[test]
    fn cut_jpegs_are_refused() {
        let mut whole = Vec::new();
        DynamicImage::new_rgb8(64, 64)
            .write_to(&mut Cursor::new(&mut whole), image::ImageFormat::Jpeg)
            .unwrap();
        assert!(Inspector.thumbnails("image/jpeg", &whole, &[32]).is_ok());
        let cut = &whole[..whole.len() - 10];
        assert!(Inspector.thumbnails("image/jpeg", cut, &[32]).is_err());
    }

    #[test]
    fn text_is_read_from_text_types_only() {
        let text = Inspector
            .extract_text("text/markdown", "# Plan\u{0}\nship it".as_bytes(), 100)
            .unwrap();
        assert_eq!(text.as_deref(), Some("# Plan\nship it"));
        let cut = Inspector.extract_text("text/plain", b"abcdef", 3).unwrap();
        assert_eq!(cut.as_deref(), Some("abc"));
        assert_eq!(Inspector.extract_text("image/png", b"x", 10).unwrap(), None);
    }

    #[test]
    fn broken_pdfs_fail_alone() {
        assert!(Inspector.reads_whole_file("application/pdf"));
        assert!(!Inspector.reads_whole_file("text/plain"));
        for broken in [
            &b"%PDF-1.7\nnot really"[..],
            b"%PDF-1.4\n1 0 obj << /Type /Catalog",
        ] {
            let err = Inspector
                .extract_text("application/pdf", broken, 100)
                .unwrap_err();
            assert!(err.to_string().contains("cannot read the PDF"), "{err}");
        }
    }
}
