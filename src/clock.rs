//! The one clock: timestamps in the form `meta.created` / `meta.lastModified` use.

use time::OffsetDateTime;
use time::macros::format_description;

/// The current time in the RFC 3339 form used for `meta.created`/`lastModified`
/// (UTC, millisecond precision).
pub fn now_rfc3339() -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_owned())
}

/// The current time as Unix seconds (token expiry, TTL attributes, rate windows).
pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}
