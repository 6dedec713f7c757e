//! Tunnel names: wg-quick's rule `^[a-zA-Z0-9_=+.-]{1,15}$`.
//!
//! The limit of 15 is the kernel's interface name size (IFNAMSIZ minus the NUL); the
//! service uses the name for the interface and for the stored file, so the rule holds on
//! every OS even where the OS itself would allow more.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::NameError;

/// A valid tunnel name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TunnelName(String);

impl TunnelName {
    pub const MAX_LEN: usize = 15;

    pub fn new(name: &str) -> Result<Self, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if let Some(ch) = name.chars().find(|&c| !is_name_char(c)) {
            return Err(NameError::InvalidChar {
                name: name.to_owned(),
                ch,
            });
        }
        if name.len() > Self::MAX_LEN {
            return Err(NameError::TooLong(name.to_owned()));
        }
        Ok(TunnelName(name.to_owned()))
    }

    /// A name for a config imported from a file, always valid.
    ///
    /// Takes the last path component (`/` or `\`), drops a `.conf` suffix (any case),
    /// replaces every character the rule forbids with `_` and keeps the first 15
    /// characters. The official clients refuse such files instead; we rename so that a
    /// zip of `My Laptop (home).conf` imports as `My_Laptop__home` rather than failing.
    /// An empty result becomes `tunnel`.
    pub fn from_file_name(file_name: &str) -> Self {
        let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
        let stem = strip_conf_suffix(base).unwrap_or(base);
        let name: String = stem
            .chars()
            .map(|c| if is_name_char(c) { c } else { '_' })
            .take(Self::MAX_LEN)
            .collect();
        if name.is_empty() {
            TunnelName("tunnel".to_owned())
        } else {
            TunnelName(name)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `self` with `-N` appended, shortened to stay within 15 characters; used to keep
    /// names unique.
    pub(crate) fn with_suffix(&self, n: usize) -> Self {
        let suffix = format!("-{n}");
        let keep = Self::MAX_LEN.saturating_sub(suffix.len()).min(self.0.len());
        TunnelName(format!("{}{suffix}", &self.0[..keep]))
    }
}

/// The file stem when `name` ends with `.conf` in any case.
pub(crate) fn strip_conf_suffix(name: &str) -> Option<&str> {
    let cut = name.len().checked_sub(5)?;
    let suffix = name.get(cut..)?;
    suffix.eq_ignore_ascii_case(".conf").then(|| &name[..cut])
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '=' | '+' | '.' | '-')
}

impl fmt::Display for TunnelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TunnelName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        TunnelName::new(s)
    }
}

impl TryFrom<String> for TunnelName {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        TunnelName::new(&s)
    }
}

impl From<TunnelName> for String {
    fn from(name: TunnelName) -> String {
        name.0
    }
}

impl AsRef<str> for TunnelName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
