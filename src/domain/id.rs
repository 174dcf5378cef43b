use std::fmt;

/// A resource id: a UUIDv7 in its text form. New ids sort by creation time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(String);

impl Id {
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// Accepts any UUID; an empty or malformed id is the caller's mistake.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim();
        if s.is_empty() {
            return Err("is required");
        }
        uuid::Uuid::parse_str(s).map(|u| Self(u.to_string())).map_err(|_| "is not a valid id")
    }

    /// Like `parse`, but empty means "none".
    pub fn parse_optional(s: &str) -> Result<Option<Self>, &'static str> {
        if s.trim().is_empty() { Ok(None) } else { Self::parse(s).map(Some) }
    }

    /// Wraps an id read back from the database.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
