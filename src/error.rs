//! The error every operation returns. Its variants are the expected outcomes
//! a caller can act on; `Unexpected` is everything else. `grpc::status` maps
//! it to a gRPC `Status` in one place.
use std::fmt;

/// One bad field of a request, named by its path (e.g. `contacts[1].email`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

/// Collects every bad field of a request, so the caller learns all at once.
#[derive(Debug, Default, Clone)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation { field: field.into(), description: description.into() });
    }

    /// Keeps the parsed value, or records why it could not be parsed.
    pub fn check<T, E: fmt::Display>(&mut self, field: impl Into<String>, parsed: Result<T, E>) -> Option<T> {
        match parsed {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn items(&self) -> &[FieldViolation] {
        &self.0
    }

    /// Prefixes every field, for violations found in a nested message.
    pub fn nested(self, prefix: &str) -> Self {
        Self(
            self.0
                .into_iter()
                .map(|v| FieldViolation { field: format!("{prefix}.{}", v.field), description: v.description })
                .collect(),
        )
    }

    pub fn extend(&mut self, other: Violations) {
        self.0.extend(other.0);
    }

    pub fn into_result(self) -> Result<(), AppError> {
        if self.0.is_empty() { Ok(()) } else { Err(AppError::InvalidArgument(self)) }
    }
}

/// One unmet precondition: what kind, about what, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Precondition {
    pub kind: &'static str,
    pub subject: String,
    pub description: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid argument: {}", describe(.0))]
    InvalidArgument(Violations),
    #[error("{resource} {id} not found")]
    NotFound { resource: &'static str, id: String },
    #[error("{description}")]
    AlreadyExists { resource: &'static str, description: String },
    #[error("{}", .0.iter().map(|p| p.description.as_str()).collect::<Vec<_>>().join("; "))]
    FailedPrecondition(Vec<Precondition>),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unauthenticated(String),
    /// A concurrent change won (etag or version mismatch); read and retry.
    #[error("{0}")]
    Aborted(String),
    /// Too many requests for the workspace right now; retry later.
    #[error("{0}")]
    ResourceExhausted(String),
    /// The database cannot be reached; the caller may retry.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

fn describe(v: &Violations) -> String {
    v.items().iter().map(|f| format!("{}: {}", f.field, f.description)).collect::<Vec<_>>().join("; ")
}

impl AppError {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        let mut v = Violations::new();
        v.add(field, description);
        Self::InvalidArgument(v)
    }

    pub fn not_found(resource: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound { resource, id: id.into() }
    }

    pub fn precondition(kind: &'static str, subject: impl Into<String>, description: impl Into<String>) -> Self {
        Self::FailedPrecondition(vec![Precondition { kind, subject: subject.into(), description: description.into() }])
    }

    pub fn admin_only() -> Self {
        Self::PermissionDenied("only an admin may do this".into())
    }
}

pub type AppResult<T> = Result<T, AppError>;
