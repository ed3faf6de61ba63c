//! Our own walk over a JPEG's markers and entropy-coded data, for the two
//! things the decoder crates do not tell us:
//!
//! * [`frame_header`]: the frame dimensions from SOF (JPEG, JPEG-LS SOF55) or
//!   SIZ (JPEG 2000 codestream), read before any codec allocates, so an
//!   embedded frame can be compared with the DICOM Rows x Columns;
//! * [`check_complete`]: whether every scan holds all the MCUs the frame
//!   needs. zune-jpeg (even in strict mode) and jpeg-decoder pad a scan that
//!   meets an EOI marker early with zero bits and return a grey-filled image
//!   as if it were fine; this walk decodes the Huffman symbols (no IDCT, no
//!   pixel buffer) and reports a scan that ends before its last MCU.
//!
//! Covered: Huffman baseline / extended (SOF0, SOF1), progressive (SOF2: DC
//! scans and first AC scans; AC refinement scans are skipped, they only
//! sharpen an image that is already complete) and lossless (SOF3). Arithmetic
//! and hierarchical JPEGs are left to the decoders, which refuse them.
//! Work is bounded by the data size: every coded unit costs at least one bit,
//! and end-of-band runs are skipped arithmetically.

/// Dimensions and sampling of a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct FrameHeader {
    pub width: u32,
    pub height: u32,
    /// What carried the dimensions ("JPEG SOF0", "JPEG-LS SOF55", "JPEG 2000 SIZ").
    pub what: &'static str,
}

#[derive(Clone, Copy, Debug, Default)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
}

#[derive(Clone, Debug)]
struct Sof {
    marker: u8,
    width: usize,
    height: usize,
    components: Vec<Component>,
}

/// Most scans accepted in one image (progressive files use about 10).
const MAX_SCANS: usize = 256;

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?])))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, *b.get(at + 3)?]))
}

/// The frame dimensions of a JPEG / JPEG-LS stream or a JPEG 2000 codestream
/// (or JP2 file), read from the header only.
pub(super) fn frame_header(data: &[u8]) -> Result<FrameHeader, String> {
    if data.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        return siz(&data[2..]);
    }
    if data.starts_with(b"\0\0\0\x0cjP  \r\n\x87\n") {
        // JP2: the codestream follows somewhere; its SIZ is what counts.
        return match data.windows(4).position(|w| w == [0xFF, 0x4F, 0xFF, 0x51]) {
            Some(at) => siz(&data[at + 2..]),
            None => Err("JPEG 2000 file without a codestream".into()),
        };
    }
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err("frame starts with neither a JPEG nor a JPEG 2000 marker".into());
    }
    let mut pos = 2;
    loop {
        let (marker, seg, next) = next_segment(data, pos)?;
        match marker {
            0xC0..=0xCF | 0xF7 if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let sof = parse_sof(marker, seg)?;
                let what = match marker {
                    0xF7 => "JPEG-LS SOF55",
                    0xC0 => "JPEG SOF0",
                    0xC1 => "JPEG SOF1",
                    0xC2 => "JPEG SOF2",
                    0xC3 => "JPEG SOF3",
                    _ => "JPEG SOF",
                };
                return Ok(FrameHeader { width: sof.width as u32, height: sof.height as u32, what });
            }
            0xDA | 0xD9 => return Err("no frame header before the scan".into()),
            _ => pos = next,
        }
    }
}

/// JPEG 2000 SIZ segment (`data` starts at its FF51 marker).
fn siz(data: &[u8]) -> Result<FrameHeader, String> {
    let err = || "truncated JPEG 2000 SIZ segment".to_string();
    // FF51, Lsiz(2), Rsiz(2), Xsiz(4), Ysiz(4), XOsiz(4), YOsiz(4)
    let x = be32(data, 6).ok_or_else(err)?;
    let y = be32(data, 10).ok_or_else(err)?;
    let xo = be32(data, 14).ok_or_else(err)?;
    let yo = be32(data, 18).ok_or_else(err)?;
    if xo >= x || yo >= y {
        return Err(format!("JPEG 2000 SIZ gives an empty image ({x}x{y}, offset {xo},{yo})"));
    }
    Ok(FrameHeader { width: x - xo, height: y - yo, what: "JPEG 2000 SIZ" })
}

/// The marker at `pos` (after fill bytes), its segment body and the offset after it.
fn next_segment(data: &[u8], mut pos: usize) -> Result<(u8, &[u8], usize), String> {
    if data.get(pos) != Some(&0xFF) {
        return Err(format!("expected a marker at byte {pos}"));
    }
    while data.get(pos) == Some(&0xFF) {
        pos += 1;
    }
    let marker = *data.get(pos).ok_or("stream ends inside a marker")?;
    pos += 1;
    if matches!(marker, 0x01 | 0xD0..=0xD9) {
        return Ok((marker, &[], pos)); // no length field
    }
    let len = be16(data, pos).ok_or("stream ends inside a marker segment")?;
    if len < 2 || pos + len > data.len() {
        return Err(format!("marker segment FF{marker:02X} of {len} bytes runs past the end of the stream"));
    }
    Ok((marker, &data[pos + 2..pos + len], pos + len))
}

fn parse_sof(marker: u8, seg: &[u8]) -> Result<Sof, String> {
    let height = be16(seg, 1).ok_or("truncated frame header")?;
    let width = be16(seg, 3).ok_or("truncated frame header")?;
    let n = usize::from(*seg.get(5).ok_or("truncated frame header")?);
    if seg.len() < 6 + 3 * n || n == 0 {
        return Err("truncated frame header".into());
    }
    let components = (0..n)
        .map(|i| {
            let c = &seg[6 + 3 * i..9 + 3 * i];
            Component { id: c[0], h: usize::from(c[1] >> 4), v: usize::from(c[1] & 15) }
        })
        .collect::<Vec<_>>();
    if components.iter().any(|c| !(1..=4).contains(&c.h) || !(1..=4).contains(&c.v)) {
        return Err("sampling factor outside 1..=4 in the frame header".into());
    }
    Ok(Sof { marker, width, height, components })
}

/// A canonical Huffman table for decoding symbols one code at a time.
#[derive(Clone)]
struct Huffman {
    /// Largest code of each length 1..=16 (-1 if none), and the index of its first symbol.
    maxcode: [i32; 17],
    valptr: [i32; 17],
    mincode: [i32; 17],
    symbols: Vec<u8>,
}

impl Huffman {
    fn new(counts: &[u8], symbols: &[u8]) -> Self {
        let mut maxcode = [-1i32; 17];
        let mut valptr = [0i32; 17];
        let mut mincode = [0i32; 17];
        let (mut code, mut k) = (0i32, 0i32);
        for len in 1..=16 {
            let n = i32::from(counts[len - 1]);
            valptr[len] = k;
            mincode[len] = code;
            code += n;
            k += n;
            maxcode[len] = if n > 0 { code - 1 } else { -1 };
            code <<= 1;
        }
        Huffman { maxcode, valptr, mincode, symbols: symbols.to_vec() }
    }
}

/// Reads the entropy-coded bits of one scan; stops at the first marker that
/// is not a restart marker awaited at an interval boundary.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u32,
    nbits: u32,
    /// A marker was met (its FF is at `pos`): no more bits in this interval.
    at_marker: bool,
}

/// The scan ran out of coded data before the frame was complete.
struct Short;

impl<'a> Bits<'a> {
    fn bit(&mut self) -> Result<u32, Short> {
        if self.nbits == 0 {
            if self.at_marker || self.pos >= self.data.len() {
                return Err(Short);
            }
            let b = self.data[self.pos];
            if b == 0xFF {
                match self.data.get(self.pos + 1) {
                    Some(0x00) => self.pos += 2,
                    _ => {
                        self.at_marker = true;
                        return Err(Short);
                    }
                }
            } else {
                self.pos += 1;
            }
            self.acc = u32::from(b);
            self.nbits = 8;
        }
        self.nbits -= 1;
        Ok((self.acc >> self.nbits) & 1)
    }

    fn bits(&mut self, n: u32) -> Result<(), Short> {
        for _ in 0..n {
            self.bit()?;
        }
        Ok(())
    }

    fn value(&mut self, n: u32) -> Result<u32, Short> {
        let mut v = 0;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Ok(v)
    }

    fn symbol(&mut self, table: &Huffman) -> Result<Result<u8, String>, Short> {
        let mut code = 0i32;
        for len in 1..=16 {
            code = (code << 1) | self.bit()? as i32;
            if code <= table.maxcode[len] {
                let i = (table.valptr[len] + code - table.mincode[len]) as usize;
                return Ok(table.symbols.get(i).copied().ok_or_else(|| "bad Huffman table".to_string()));
            }
        }
        Ok(Err("invalid Huffman code".into()))
    }

    /// Restart boundary: drop the bits left in the byte, skip an RSTn marker.
    fn restart(&mut self) {
        self.nbits = 0;
        // Skip to the next marker (there should be none in between).
        let mut p = self.pos;
        while p + 1 < self.data.len() && !(self.data[p] == 0xFF && self.data[p + 1] != 0x00) {
            p += if self.data[p] == 0xFF { 2 } else { 1 };
        }
        while p + 1 < self.data.len() && self.data[p] == 0xFF && self.data[p + 1] == 0xFF {
            p += 1;
        }
        if p + 1 < self.data.len() && (0xD0..=0xD7).contains(&self.data[p + 1]) {
            self.pos = p + 2;
            self.at_marker = false;
        } else {
            self.pos = p;
            self.at_marker = p < self.data.len();
        }
    }

    /// After the scan: the offset of the marker that ends it.
    fn end(&self) -> usize {
        let mut p = self.pos;
        while p + 1 < self.data.len() {
            if self.data[p] == 0xFF && self.data[p + 1] != 0x00 && !(0xD0..=0xD7).contains(&self.data[p + 1]) {
                return p;
            }
            p += if self.data[p] == 0xFF { 2 } else { 1 };
        }
        self.data.len()
    }
}

struct ScanComponent {
    index: usize,
    dc: usize,
    ac: usize,
}

/// Check that every scan of a JPEG holds all the coded units of its frame.
/// `Err` names the problem (the caller adds "corrupt JPEG").
pub(super) fn check_complete(data: &[u8]) -> Result<(), String> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err("no SOI marker".into());
    }
    let mut dc_tables: [Option<Huffman>; 4] = Default::default();
    let mut ac_tables: [Option<Huffman>; 4] = Default::default();
    let mut restart_interval = 0usize;
    let mut sof: Option<Sof> = None;
    let mut scans = 0usize;
    let mut pos = 2;
    loop {
        if pos >= data.len() {
            return if scans == 0 { Err("no scan before the end of the stream".into()) } else { Ok(()) };
        }
        let (marker, seg, next) = next_segment(data, pos)?;
        pos = next;
        match marker {
            0xD9 => return if scans == 0 { Err("no scan before the EOI marker".into()) } else { Ok(()) },
            0xC4 => parse_dht(seg, &mut dc_tables, &mut ac_tables)?,
            0xDD => restart_interval = be16(seg, 0).ok_or("truncated DRI segment")?,
            0xC0..=0xC3 => sof = Some(parse_sof(marker, seg)?),
            // Arithmetic, hierarchical and JPEG-LS streams: left to the decoders.
            0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xF7 => return Ok(()),
            0xDA => {
                let frame = sof.as_ref().ok_or("scan before the frame header")?;
                scans += 1;
                if scans > MAX_SCANS {
                    return Err(format!("more than {MAX_SCANS} scans"));
                }
                pos = check_scan(data, pos, seg, frame, &dc_tables, &ac_tables, restart_interval)?;
            }
            _ => {}
        }
    }
}

fn parse_dht(seg: &[u8], dc: &mut [Option<Huffman>; 4], ac: &mut [Option<Huffman>; 4]) -> Result<(), String> {
    let mut p = 0;
    while p < seg.len() {
        let tc_th = seg[p];
        let counts = seg.get(p + 1..p + 17).ok_or("truncated DHT segment")?;
        let n: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let symbols = seg.get(p + 17..p + 17 + n).ok_or("truncated DHT segment")?;
        let slot = usize::from(tc_th & 0x0F);
        if slot > 3 {
            return Err("Huffman table id over 3".into());
        }
        let table = Some(Huffman::new(counts, symbols));
        if tc_th >> 4 == 0 {
            dc[slot] = table;
        } else {
            ac[slot] = table;
        }
        p += 17 + n;
    }
    Ok(())
}

/// Decode one scan's symbols; returns the offset of the marker that ends it.
#[allow(clippy::too_many_arguments)]
fn check_scan(
    data: &[u8],
    start: usize,
    seg: &[u8],
    frame: &Sof,
    dc_tables: &[Option<Huffman>; 4],
    ac_tables: &[Option<Huffman>; 4],
    restart_interval: usize,
) -> Result<usize, String> {
    let n = usize::from(*seg.first().ok_or("truncated SOS segment")?);
    if n == 0 || n > 4 || seg.len() < 1 + 2 * n + 3 {
        return Err("bad SOS segment".into());
    }
    let mut comps = Vec::with_capacity(n);
    for i in 0..n {
        let id = seg[1 + 2 * i];
        let index = frame
            .components
            .iter()
            .position(|c| c.id == id)
            .ok_or_else(|| format!("scan names component {id}, not in the frame"))?;
        let tables = seg[2 + 2 * i];
        comps.push(ScanComponent { index, dc: usize::from(tables >> 4), ac: usize::from(tables & 15) });
    }
    let (ss, se, ah) = (seg[1 + 2 * n], seg[2 + 2 * n], seg[3 + 2 * n] >> 4);
    let lossless = frame.marker == 0xC3;
    let progressive = frame.marker == 0xC2;
    let unit = if lossless { 1 } else { 8 };
    let hmax = frame.components.iter().map(|c| c.h).max().unwrap_or(1);
    let vmax = frame.components.iter().map(|c| c.v).max().unwrap_or(1);
    if frame.width == 0 || frame.height == 0 {
        return Err(format!("frame of {}x{} pixels", frame.width, frame.height));
    }

    // What each coded unit holds.
    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        Sequential, // DC + AC (baseline / extended)
        Lossless,   // one difference per sample
        DcFirst,    // progressive DC, first pass
        DcRefine,   // one bit per block
        AcFirst,    // progressive AC band, first pass (EOB runs)
        Unchecked,  // AC refinement: skipped
    }
    let mode = if lossless {
        Mode::Lossless
    } else if !progressive {
        Mode::Sequential
    } else if ss == 0 {
        if ah == 0 {
            Mode::DcFirst
        } else {
            Mode::DcRefine
        }
    } else if ah == 0 {
        Mode::AcFirst
    } else {
        Mode::Unchecked
    };
    let mut bits = Bits { data, pos: start, acc: 0, nbits: 0, at_marker: false };
    if mode == Mode::Unchecked {
        return Ok(bits.end());
    }
    for c in &comps {
        if matches!(mode, Mode::Sequential | Mode::Lossless | Mode::DcFirst) {
            table(dc_tables, c.dc, "DC")?;
        }
        if matches!(mode, Mode::Sequential | Mode::AcFirst) {
            table(ac_tables, c.ac, "AC")?;
        }
    }

    // MCU layout: units per MCU per component, MCUs in the scan.
    let (mcus, per_mcu): (usize, Vec<(usize, usize)>) = if comps.len() == 1 {
        let c = frame.components[comps[0].index];
        let w = (frame.width * c.h).div_ceil(hmax).div_ceil(unit);
        let h = (frame.height * c.v).div_ceil(vmax).div_ceil(unit);
        (w * h, vec![(0, 1)])
    } else {
        let mcus = frame.width.div_ceil(unit * hmax) * frame.height.div_ceil(unit * vmax);
        (
            mcus,
            comps
                .iter()
                .enumerate()
                .map(|(i, c)| (i, frame.components[c.index].h * frame.components[c.index].v))
                .collect(),
        )
    };

    if mode == Mode::AcFirst && comps.len() != 1 {
        return Err("progressive AC scan with several components".into());
    }
    let short = |done: usize| format!("scan ended before all MCUs were decoded ({done} of {mcus})");
    let mut eobrun = 0usize;
    let mut mcu = 0usize;
    while mcu < mcus {
        if restart_interval > 0 && mcu > 0 && mcu % restart_interval == 0 {
            bits.restart();
            eobrun = 0;
        }
        // An end-of-band run covers whole blocks: skip them without a loop,
        // but never across a restart boundary.
        if mode == Mode::AcFirst && eobrun > 0 {
            let to_boundary = if restart_interval > 0 { restart_interval - mcu % restart_interval } else { mcus - mcu };
            let skip = eobrun.min(to_boundary).min(mcus - mcu);
            eobrun -= skip;
            mcu += skip;
            continue;
        }
        for &(ci, count) in &per_mcu {
            let c = &comps[ci];
            for _ in 0..count {
                let r = match mode {
                    Mode::Sequential => match dc_diff(&mut bits, table(dc_tables, c.dc, "DC")?, false) {
                        Ok(Ok(())) => ac_block(&mut bits, table(ac_tables, c.ac, "AC")?, 1, 63),
                        other => other,
                    },
                    Mode::Lossless => dc_diff(&mut bits, table(dc_tables, c.dc, "DC")?, true),
                    Mode::DcFirst => dc_diff(&mut bits, table(dc_tables, c.dc, "DC")?, false),
                    Mode::DcRefine => bits.bits(1).map(Ok),
                    Mode::AcFirst => ac_first(&mut bits, table(ac_tables, c.ac, "AC")?, ss, se, &mut eobrun),
                    Mode::Unchecked => unreachable!(),
                };
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(message)) => return Err(message),
                    Err(Short) => return Err(short(mcu)),
                }
            }
        }
        mcu += 1;
    }
    Ok(bits.end())
}

fn table<'t>(tables: &'t [Option<Huffman>; 4], id: usize, what: &str) -> Result<&'t Huffman, String> {
    tables.get(id).and_then(Option::as_ref).ok_or_else(|| format!("scan uses undefined {what} Huffman table {id}"))
}

type Step = Result<Result<(), String>, Short>;

/// A DC difference (or a lossless sample difference): category + extra bits.
fn dc_diff(bits: &mut Bits<'_>, table: &Huffman, lossless: bool) -> Step {
    let s = match bits.symbol(table)? {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    if s > 16 || (!lossless && s > 15) {
        return Ok(Err(format!("DC difference category {s}")));
    }
    if s < 16 {
        bits.bits(u32::from(s))?;
    }
    Ok(Ok(()))
}

/// The AC coefficients k..=end of one sequential block.
fn ac_block(bits: &mut Bits<'_>, table: &Huffman, mut k: usize, end: usize) -> Step {
    while k <= end {
        let rs = match bits.symbol(table)? {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let (r, s) = (usize::from(rs >> 4), u32::from(rs & 15));
        if s == 0 {
            if r != 15 {
                break; // end of block
            }
            k += 16;
        } else {
            k += r;
            bits.bits(s)?;
            k += 1;
        }
    }
    Ok(Ok(()))
}

/// One block of a progressive first AC scan; sets `eobrun` for the blocks after it.
fn ac_first(bits: &mut Bits<'_>, table: &Huffman, ss: u8, se: u8, eobrun: &mut usize) -> Step {
    let mut k = usize::from(ss);
    while k <= usize::from(se) {
        let rs = match bits.symbol(table)? {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let (r, s) = (u32::from(rs >> 4), u32::from(rs & 15));
        if s == 0 {
            if r < 15 {
                // This block ends the band; 2^r + extra - 1 more blocks do too.
                *eobrun = (1usize << r) + bits.value(r)? as usize - 1;
                break;
            }
            k += 16;
        } else {
            k += r as usize;
            bits.bits(s)?;
            k += 1;
        }
    }
    Ok(Ok(()))
}
