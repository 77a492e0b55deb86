//! Byte-level helpers shared by the reader: file positions, Smalltalk lexical rules (strings,
//! comments, character literals, symbols, literal arrays) and the whitespace rules Pharo's Tonel
//! reader applies around method bodies and class comments.
//!
//! Everything works on `&[u8]` and byte offsets so that scanning a large tree does no per-char
//! allocation; offsets are turned into 1-based line/column only when a position is reported.

use crate::model::Pos;

/// Maps byte offsets of one file to 1-based line/column positions.
///
/// A line ends at `\n`, `\r\n` or a lone `\r` (old Squeak files use CR). Columns count characters
/// (UTF-8 code points), not bytes, as the model's [`Pos`] asks.
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(bytes: &[u8]) -> LineIndex {
        let mut starts = Vec::with_capacity(bytes.len() / 32 + 1);
        starts.push(0);
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => starts.push(i + 1),
                b'\r' if bytes.get(i + 1) != Some(&b'\n') => starts.push(i + 1),
                _ => {}
            }
            i += 1;
        }
        LineIndex { starts }
    }

    /// 1-based line of a byte offset.
    pub(crate) fn line(&self, offset: usize) -> u32 {
        // partition_point gives the number of line starts <= offset.
        self.starts.partition_point(|&s| s <= offset) as u32
    }

    /// 1-based line and character column of a byte offset.
    pub(crate) fn pos(&self, bytes: &[u8], offset: usize) -> Pos {
        let line = self.line(offset);
        let start = self.starts[(line as usize).saturating_sub(1)];
        let end = offset.min(bytes.len());
        let chars = bytes[start..end]
            .iter()
            .filter(|&&b| (b & 0xC0) != 0x80)
            .count();
        Pos {
            line,
            column: chars as u32 + 1,
        }
    }
}

/// Pharo's `Character>>isSeparator`: space, tab, LF, FF, CR.
pub(crate) fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

/// Letters, digits, `_` and any non-ASCII byte (Pharo accepts Unicode letters in identifiers).
pub(crate) fn is_ident_char(b: u8) -> bool {
    IDENT_CHAR[b as usize]
}

/// [`is_ident_char`] as a table: one load per byte in the identifier loops of the reader.
static IDENT_CHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
        b += 1;
    }
    t
};

pub(crate) fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

/// Characters that make up binary selectors (`+`, `->`, `==>`, `,`, `~=` …).
pub(crate) fn is_binary_char(b: u8) -> bool {
    matches!(
        b,
        b'+' | b'-'
            | b'*'
            | b'/'
            | b'\\'
            | b'~'
            | b'<'
            | b'>'
            | b'='
            | b'@'
            | b','
            | b'%'
            | b'|'
            | b'&'
            | b'?'
            | b'!'
    )
}

/// Length in bytes of the UTF-8 character starting at `bytes[i]` (1 for invalid bytes).
pub(crate) fn char_len(bytes: &[u8], i: usize) -> usize {
    let b = bytes[i];
    let n = if b < 0x80 {
        1
    } else if b >= 0xF0 {
        4
    } else if b >= 0xE0 {
        3
    } else if b >= 0xC0 {
        2
    } else {
        1
    };
    n.min(bytes.len() - i)
}

/// Describes what sits at `i` for an error message ("found ...").
pub(crate) fn describe(bytes: &[u8], i: usize) -> String {
    if i >= bytes.len() {
        return "end of file".to_string();
    }
    match bytes[i] {
        b'\n' | b'\r' => "end of line".to_string(),
        b' ' => "a space".to_string(),
        b'\t' => "a tab".to_string(),
        _ => {
            let n = char_len(bytes, i);
            let s = String::from_utf8_lossy(&bytes[i..i + n]);
            format!("'{s}'")
        }
    }
}

/// A lexical failure inside Smalltalk code: what was expected and where the construct began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError {
    /// Offset the error is reported at (the opening delimiter of the unterminated construct,
    /// or the end of input).
    pub offset: usize,
    pub message: String,
}

/// Skips a `'...'` string (with `''` escapes) starting at the opening quote; returns the offset
/// just after the closing quote.
pub(crate) fn skip_string(bytes: &[u8], start: usize) -> Result<usize, LexError> {
    skip_quoted(bytes, start, b'\'', "string")
}

/// Skips a `"..."` comment (with `""` escapes) starting at the opening quote.
pub(crate) fn skip_comment(bytes: &[u8], start: usize) -> Result<usize, LexError> {
    skip_quoted(bytes, start, b'"', "comment")
}

fn skip_quoted(bytes: &[u8], start: usize, quote: u8, what: &str) -> Result<usize, LexError> {
    let mut i = start + 1;
    loop {
        match bytes[i.min(bytes.len())..].iter().position(|&b| b == quote) {
            None => {
                return Err(LexError {
                    offset: start,
                    message: format!(
                        "expected a closing {} for the {what} that starts here, found end of file",
                        if quote == b'"' { "'\"'" } else { "quote" }
                    ),
                });
            }
            Some(p) => {
                let q = i + p;
                if bytes.get(q + 1) == Some(&quote) {
                    i = q + 2;
                } else {
                    return Ok(q + 1);
                }
            }
        }
    }
}

/// Skips `#...` at `start` (the `#`): symbols (`#foo:bar:`, `#+`, `#'a b'`, `##foo`), literal
/// arrays `#( ... )` and byte arrays `#[ ... ]`. Returns the offset after the literal.
pub(crate) fn skip_hash_literal(bytes: &[u8], start: usize) -> Result<usize, LexError> {
    let mut i = start;
    while bytes.get(i) == Some(&b'#') {
        i += 1;
    }
    match bytes.get(i) {
        Some(b'\'') => skip_string(bytes, i),
        Some(b'(') => skip_literal_array(bytes, i),
        Some(b'[') => skip_byte_array(bytes, i),
        Some(&b) if is_ident_start(b) => {
            while i < bytes.len() && (is_ident_char(bytes[i]) || bytes[i] == b':') {
                i += 1;
            }
            Ok(i)
        }
        Some(&b) if is_binary_char(b) => {
            while i < bytes.len() && is_binary_char(bytes[i]) {
                i += 1;
            }
            Ok(i)
        }
        // A lone `#` (or `#]` inside a literal array) is left for the caller to step over.
        _ => Ok(i),
    }
}

/// Skips a literal array starting at its `(`. Inside, only parentheses nest: `]`, `[`, `#]`
/// and keywords are plain elements, as in Pharo's scanner. Strings, comments, quoted symbols
/// and character literals are skipped so their parentheses do not count.
fn skip_literal_array(bytes: &[u8], open: usize) -> Result<usize, LexError> {
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'(' => {
                depth += 1;
                i += 1;
            }
            b')' => {
                depth -= 1;
                i += 1;
                if depth == 0 {
                    return Ok(i);
                }
            }
            b'\'' => i = skip_string(bytes, i)?,
            b'"' => i = skip_comment(bytes, i)?,
            b'$' => i = skip_char_literal(bytes, i),
            b'#' if bytes.get(i + 1) == Some(&b'\'') => i = skip_string(bytes, i + 1)?,
            _ => i += 1,
        }
    }
    Err(LexError {
        offset: open,
        message: "expected ')' closing the literal array that starts here, found end of file"
            .to_string(),
    })
}

/// Skips a byte array `#[ 1 2 3 ]` starting at its `[`.
fn skip_byte_array(bytes: &[u8], open: usize) -> Result<usize, LexError> {
    let mut i = open + 1;
    while i < bytes.len() {
        match bytes[i] {
            b']' => return Ok(i + 1),
            b'"' => i = skip_comment(bytes, i)?,
            _ => i += 1,
        }
    }
    Err(LexError {
        offset: open,
        message: "expected ']' closing the byte array that starts here, found end of file"
            .to_string(),
    })
}

/// Skips a character literal `$x` (any character, including `$'`, `$"`, `$$`, `$ ` and
/// multi-byte UTF-8 characters). A `$` at end of input is skipped alone.
pub(crate) fn skip_char_literal(bytes: &[u8], start: usize) -> usize {
    let i = start + 1;
    if i >= bytes.len() {
        return i;
    }
    i + char_len(bytes, i)
}

/// Bytes that mean something to [`find_body_end`].
static BODY_SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b'[' as usize] = true;
    t[b']' as usize] = true;
    t[b'\'' as usize] = true;
    t[b'"' as usize] = true;
    t[b'$' as usize] = true;
    t[b'#' as usize] = true;
    t
};

/// Offset of the first byte at or after `from` that [`BODY_SPECIAL`] marks, or `bytes.len()`.
///
/// Method bodies are most of a Tonel file and most of their bytes are plain code, so this is
/// the reader's innermost loop: on x86_64 it tests 16 bytes at a time with SSE2, elsewhere one
/// byte at a time with the table.
fn next_body_special(bytes: &[u8], from: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE2 is part of the x86_64 baseline: every x86_64 CPU has it.
    let from = unsafe { skip_plain_16(bytes, from) };
    let mut i = from;
    while i < bytes.len() && !BODY_SPECIAL[bytes[i] as usize] {
        i += 1;
    }
    i
}

/// Skips 16-byte blocks of plain code from `i`: returns the offset of the first special byte,
/// or the start of the last incomplete block (for the caller's byte loop).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn skip_plain_16(bytes: &[u8], mut i: usize) -> usize {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let eq = |v: __m128i, b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
    while let Some(chunk) = bytes.get(i..i + 16) {
        // SAFETY: `chunk` is 16 readable bytes, and `loadu` has no alignment requirement.
        let v = unsafe { _mm_loadu_si128(chunk.as_ptr().cast()) };
        let hits = _mm_or_si128(
            _mm_or_si128(eq(v, b'['), eq(v, b']')),
            _mm_or_si128(
                _mm_or_si128(eq(v, b'\''), eq(v, b'"')),
                _mm_or_si128(eq(v, b'$'), eq(v, b'#')),
            ),
        );
        let mask = _mm_movemask_epi8(hits) as u32;
        if mask != 0 {
            return i + mask.trailing_zeros() as usize;
        }
        i += 16;
    }
    i
}

/// Whether `bytes` holds `needle` (the reader asks once per file whether it has any `\r`).
pub(crate) fn contains_byte(bytes: &[u8], needle: u8) -> bool {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE2 is part of the x86_64 baseline: every x86_64 CPU has it.
    return unsafe { contains_byte_sse2(bytes, needle) };
    #[cfg(not(target_arch = "x86_64"))]
    bytes.contains(&needle)
}

/// How many times `needle` occurs in `bytes` (the reader counts the lines of every body).
pub(crate) fn count_byte(bytes: &[u8], needle: u8) -> usize {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE2 is part of the x86_64 baseline: every x86_64 CPU has it.
    return unsafe { count_byte_sse2(bytes, needle) };
    // Summing in `u8` lanes over 255-byte chunks lets the compiler vectorise it.
    #[cfg(not(target_arch = "x86_64"))]
    bytes
        .chunks(255)
        .map(|c| c.iter().fold(0u8, |n, &b| n + u8::from(b == needle)) as usize)
        .sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn contains_byte_sse2(bytes: &[u8], needle: u8) -> bool {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let n = _mm_set1_epi8(needle as i8);
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        // SAFETY: `block` is 32 readable bytes; `loadu` has no alignment requirement.
        let (a, b) = unsafe {
            (
                _mm_loadu_si128(block.as_ptr().cast()),
                _mm_loadu_si128(block[16..].as_ptr().cast()),
            )
        };
        if _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(a, n), _mm_cmpeq_epi8(b, n))) != 0 {
            return true;
        }
    }
    blocks.remainder().contains(&needle)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn count_byte_sse2(bytes: &[u8], needle: u8) -> usize {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_cvtsi128_si64, _mm_extract_epi16, _mm_loadu_si128, _mm_sad_epu8,
        _mm_set1_epi8, _mm_setzero_si128, _mm_sub_epi8,
    };
    let n = _mm_set1_epi8(needle as i8);
    let zero = _mm_setzero_si128();
    let mut total = 0;
    let mut blocks = bytes.chunks_exact(16);
    loop {
        // Each byte lane counts up to 255 blocks, then the lanes are summed (psadbw).
        let mut lanes = zero;
        let mut counted = 0;
        for block in blocks.by_ref().take(255) {
            // SAFETY: `block` is 16 readable bytes; `loadu` has no alignment requirement.
            let v = unsafe { _mm_loadu_si128(block.as_ptr().cast()) };
            lanes = _mm_sub_epi8(lanes, _mm_cmpeq_epi8(v, n));
            counted += 1;
        }
        let sums = _mm_sad_epu8(lanes, zero);
        total += _mm_cvtsi128_si64(sums) as usize + _mm_extract_epi16::<4>(sums) as usize;
        if counted < 255 {
            break;
        }
    }
    total + blocks.remainder().iter().filter(|&&b| b == needle).count()
}

/// Finds the `]` that closes the method body whose `[` is at `open`, following Smalltalk's
/// lexical rules (nested blocks, strings, comments, character literals, symbols, literal and
/// byte arrays). Returns the offset of the closing `]`.
pub(crate) fn find_body_end(bytes: &[u8], open: usize) -> Result<usize, LexError> {
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        // Most bytes are plain code: jump to the next one that means something.
        i = next_body_special(bytes, i);
        if i >= bytes.len() {
            break;
        }
        match bytes[i] {
            b'[' => {
                depth += 1;
                i += 1;
            }
            b']' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i);
                }
                i += 1;
            }
            b'\'' => i = skip_string(bytes, i)?,
            b'"' => i = skip_comment(bytes, i)?,
            b'$' => i = skip_char_literal(bytes, i),
            b'#' => {
                let next = skip_hash_literal(bytes, i)?;
                // Always make progress, even on a lone `#`.
                i = next.max(i + 1);
            }
            _ => i += 1,
        }
    }
    Err(LexError {
        offset: open,
        message: "expected ']' closing the method body that starts here, found end of file"
            .to_string(),
    })
}

/// Pharo's right-hand clean of a method body or comment (`TonelParser>>removeFrom:...clean:`):
/// walking back from `end` (exclusive), drop separators until one line ending has been dropped
/// or a non-separator is reached. A `\r\n` pair counts as one line ending. Returns the new end.
pub(crate) fn clean_right(bytes: &[u8], start: usize, end: usize) -> usize {
    let mut e = end;
    while e > start && is_separator(bytes[e - 1]) {
        let b = bytes[e - 1];
        e -= 1;
        if b == b'\n' {
            if e > start && bytes[e - 1] == b'\r' {
                e -= 1;
            }
            break;
        }
        if b == b'\r' {
            break;
        }
    }
    e
}

/// Pharo's left-hand clean (used for class comments): drop separators from `start` until one
/// line ending has been dropped or a non-separator is reached.
pub(crate) fn clean_left(bytes: &[u8], start: usize, end: usize) -> usize {
    let mut s = start;
    while s < end && is_separator(bytes[s]) {
        let b = bytes[s];
        s += 1;
        if b == b'\r' {
            if s < end && bytes[s] == b'\n' {
                s += 1;
            }
            break;
        }
        if b == b'\n' {
            break;
        }
    }
    s
}

/// Copies `bytes` into a `String`, turning `\r\n` and lone `\r` into `\n`. Invalid UTF-8 is
/// replaced (the caller has already validated the file, so this is a no-op in practice).
pub(crate) fn to_lf_string(bytes: &[u8]) -> String {
    if !bytes.contains(&b'\r') {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' {
            out.push(b'\n');
            if bytes.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
        } else {
            out.push(bytes[i]);
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(src: &str) -> &str {
        let b = src.as_bytes();
        let open = src.find('[').unwrap();
        let end = find_body_end(b, open).unwrap();
        &src[open + 1..end]
    }

    #[test]
    fn brackets_inside_literals_do_not_count() {
        assert_eq!(body("[ $] ]"), " $] ");
        assert_eq!(body("[ $[ ]"), " $[ ");
        assert_eq!(body("[ ']' ]"), " ']' ");
        assert_eq!(body("[ \"]\" ]"), " \"]\" ");
        assert_eq!(body("[ #(#] #[ foo: ) ]"), " #(#] #[ foo: ) ");
        assert_eq!(body("[ #[1 2 3] ]"), " #[1 2 3] ");
        assert_eq!(body("[ $' ]"), " $' ");
        assert_eq!(body("[ $\" ]"), " $\" ");
        assert_eq!(body("[ $$ ]"), " $$ ");
        assert_eq!(body("[ $$] ]"), " $$");
        assert_eq!(body("[ #'a]b' ]"), " #'a]b' ");
        assert_eq!(body("[ [:x|[:y | x]] value ]"), " [:x|[:y | x]] value ");
        assert_eq!(body("[ #( $) ) ]"), " #( $) ) ");
        assert_eq!(body("[ 'it''s ]' ]"), " 'it''s ]' ");
        assert_eq!(body("[ $é ]"), " $é ");
    }

    #[test]
    fn special_bytes_are_found_at_every_offset_of_a_block() {
        for special in [b'[', b']', b'\'', b'"', b'$', b'#'] {
            for at in 0..48 {
                let mut text = vec![b'x'; 48];
                text[at] = special;
                for from in 0..=at {
                    assert_eq!(next_body_special(&text, from), at, "{special} at {at}");
                }
                assert_eq!(next_body_special(&text, at + 1), 48);
            }
        }
        let plain = "é ^ self foo: 1 + 2 bar: x; yourself. \n\t| a b |".repeat(3);
        assert_eq!(next_body_special(plain.as_bytes(), 0), plain.len());
    }

    #[test]
    fn byte_counts_at_every_length() {
        let text: Vec<u8> = (0..9000u32).map(|k| (k * 7 % 13) as u8 + b'\n').collect();
        for len in (0..200).chain([4079, 4080, 4081, 8999]) {
            let s = &text[..len];
            let newlines = s.iter().filter(|&&b| b == b'\n').count();
            assert_eq!(count_byte(s, b'\n'), newlines, "length {len}");
            assert_eq!(contains_byte(s, b'\n'), newlines > 0, "length {len}");
            assert_eq!(contains_byte(s, b'\r'), s.contains(&b'\r'), "length {len}");
        }
    }

    #[test]
    fn unterminated_constructs_report_their_start() {
        let e = find_body_end(b"[ 'abc ]", 0).unwrap_err();
        assert_eq!(e.offset, 2);
        let e = find_body_end(b"[ \"abc ]", 0).unwrap_err();
        assert_eq!(e.offset, 2);
        let e = find_body_end(b"[ [ ]", 0).unwrap_err();
        assert_eq!(e.offset, 0);
        let e = find_body_end(b"[ #( ]", 0).unwrap_err();
        assert_eq!(e.offset, 3);
    }

    #[test]
    fn clean_right_drops_one_line_ending() {
        let s = b"\n\t^ 1 \n\t\n";
        assert_eq!(clean_right(s, 0, s.len()), s.len() - 1);
        let s = b"\n\t^ 1\r\n";
        assert_eq!(clean_right(s, 0, s.len()), 5);
        let s = b" ^ 1 \t";
        assert_eq!(clean_right(s, 0, s.len()), 4);
        let s = b"\n";
        assert_eq!(clean_right(s, 0, s.len()), 0);
    }

    #[test]
    fn clean_left_drops_one_line_ending() {
        let s = b"\n\nfoo";
        assert_eq!(clean_left(s, 0, s.len()), 1);
        let s = b"  foo";
        assert_eq!(clean_left(s, 0, s.len()), 2);
        let s = b"\r\nfoo";
        assert_eq!(clean_left(s, 0, s.len()), 2);
    }

    #[test]
    fn positions_count_characters_and_all_line_endings() {
        let s = "ab\r\ncé\rx\ny".as_bytes();
        let idx = LineIndex::new(s);
        assert_eq!(idx.pos(s, 0), Pos { line: 1, column: 1 });
        assert_eq!(idx.pos(s, 4), Pos { line: 2, column: 1 });
        // 'x' after "cé\r": line 3.
        let x = s.iter().position(|&b| b == b'x').unwrap();
        assert_eq!(idx.pos(s, x), Pos { line: 3, column: 1 });
        let y = s.len() - 1;
        assert_eq!(idx.pos(s, y), Pos { line: 4, column: 1 });
        // column after a 2-byte char
        assert_eq!(idx.pos(s, 7), Pos { line: 2, column: 3 });
    }

    #[test]
    fn lf_conversion() {
        assert_eq!(to_lf_string(b"a\r\nb\rc\n"), "a\nb\nc\n");
    }
}
