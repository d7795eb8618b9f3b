//! Civil-calendar arithmetic and the timestamp forms the generator writes, without a date crate.
//!
//! Times are whole seconds since 1970-01-01 00:00:00 (no time zone: extracts carry local wall
//! time). Formatting appends ASCII to a byte buffer so a line is built without allocating.

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day number since 1970-01-01 (inverse of [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A timestamp at a date and time of day.
pub fn timestamp(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> i64 {
    days_from_civil(year, month, day) * DAY + i64::from(hour * 3600 + minute * 60 + second)
}

/// The spellings of a timestamp that FEATURES.md requires a loader to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeForm {
    /// `2022-06-18 10:52:39.000`, the form of real extracts.
    Canonical,
    /// `2022-06-18T10:52:39`
    IsoT,
    /// `2022-06-18T10:52:39.123456` (six fraction digits, always zero here).
    IsoTMicros,
    /// `2022-06-18` (the time of day is lost: midnight).
    DateOnly,
    /// `6/18/2022 10:52` (one-digit month/day/hour allowed; seconds lost).
    UsMinutes,
    /// `6/18/2022 9:52:39`
    UsSeconds,
}

/// Append `value` in decimal, left-padded with zeros to `width` digits.
pub fn push_padded(buf: &mut Vec<u8>, value: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut n = value;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for _ in len..width {
        buf.push(b'0');
    }
    buf.extend(digits[..len].iter().rev());
}

/// Append `value` in decimal.
pub fn push_u64(buf: &mut Vec<u8>, value: u64) {
    push_padded(buf, value, 1);
}

/// Append timestamp `t` (seconds since 1970) in `form`.
pub fn push_timestamp(buf: &mut Vec<u8>, t: i64, form: TimeForm) {
    let (year, month, day) = civil_from_days(t.div_euclid(DAY));
    let secs = t.rem_euclid(DAY) as u64;
    let (hour, minute, second) = (secs / 3600, secs / 60 % 60, secs % 60);
    let year = year.max(0) as u64;
    match form {
        TimeForm::UsMinutes | TimeForm::UsSeconds => {
            push_u64(buf, u64::from(month));
            buf.push(b'/');
            push_u64(buf, u64::from(day));
            buf.push(b'/');
            push_padded(buf, year, 4);
            buf.push(b' ');
            push_u64(buf, hour);
            buf.push(b':');
            push_padded(buf, minute, 2);
            if form == TimeForm::UsSeconds {
                buf.push(b':');
                push_padded(buf, second, 2);
            }
        }
        _ => {
            push_padded(buf, year, 4);
            buf.push(b'-');
            push_padded(buf, u64::from(month), 2);
            buf.push(b'-');
            push_padded(buf, u64::from(day), 2);
            if form == TimeForm::DateOnly {
                return;
            }
            buf.push(if form == TimeForm::Canonical { b' ' } else { b'T' });
            push_padded(buf, hour, 2);
            buf.push(b':');
            push_padded(buf, minute, 2);
            buf.push(b':');
            push_padded(buf, second, 2);
            match form {
                TimeForm::Canonical => buf.extend_from_slice(b".000"),
                TimeForm::IsoTMicros => buf.extend_from_slice(b".000000"),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: i64, form: TimeForm) -> String {
        let mut buf = Vec::new();
        push_timestamp(&mut buf, t, form);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn civil_round_trip_and_known_days() {
        // 2000-03-01 is day 11017 (30 years * 365 + 7 leap days + 31 + 29).
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        for d in [-1000, 0, 59, 60, 11_016, 19_000, 20_088] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn every_form_is_spelled_as_in_features_md() {
        let t = timestamp(2022, 6, 8, 9, 5, 7);
        assert_eq!(text(t, TimeForm::Canonical), "2022-06-08 09:05:07.000");
        assert_eq!(text(t, TimeForm::IsoT), "2022-06-08T09:05:07");
        assert_eq!(text(t, TimeForm::IsoTMicros), "2022-06-08T09:05:07.000000");
        assert_eq!(text(t, TimeForm::DateOnly), "2022-06-08");
        assert_eq!(text(t, TimeForm::UsMinutes), "6/8/2022 9:05");
        assert_eq!(text(t, TimeForm::UsSeconds), "6/8/2022 9:05:07");
    }
}
