//! Who is calling. The auth layer resolves the bearer token once per request
//! into a `Caller`; handlers then demand the kind of caller they serve.
use super::Id;
use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Supervisor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
        }
    }
    pub fn from_stored(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "supervisor" => Some(Role::Supervisor),
            _ => None,
        }
    }
}

/// A staff user acting through one of its API keys.
#[derive(Debug, Clone)]
pub struct StaffPrincipal {
    pub workspace_id: Id,
    pub staff_user_id: Id,
    pub api_key_id: Id,
    pub role: Role,
    /// The supervisor's areas at the time of the request (empty for admins).
    pub area_ids: Vec<Id>,
    /// The SHA-256 of the key (unique to it): what a live stream's
    /// heartbeat looks up, as every staff call does.
    pub key_hash: String,
}

impl StaffPrincipal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.is_admin() { Ok(()) } else { Err(AppError::admin_only()) }
    }

    /// Which customers this caller may see: all (admins) or those of its areas.
    pub fn scope(&self) -> CustomerScope {
        CustomerScope {
            workspace_id: self.workspace_id.clone(),
            areas: if self.is_admin() { None } else { Some(self.area_ids.clone()) },
        }
    }
}

/// The customers a caller may see. Every customer query goes through one, so
/// tenant and area isolation are enforced in the store, not in each handler.
#[derive(Debug, Clone)]
pub struct CustomerScope {
    pub workspace_id: Id,
    /// `None`: every area and none; `Some`: only customers in these areas.
    pub areas: Option<Vec<Id>>,
}

impl CustomerScope {
    pub fn allows_area(&self, area: Option<&Id>) -> bool {
        match (&self.areas, area) {
            (None, _) => true,
            (Some(areas), Some(a)) => areas.contains(a),
            (Some(_), None) => false,
        }
    }
}

/// A contact logged into the HUB.
#[derive(Debug, Clone)]
pub struct HubPrincipal {
    pub workspace_id: Id,
    pub customer_id: Id,
    pub contact_id: Id,
    pub session_id: Id,
    /// The SHA-256 of the session's token: a live stream checks its
    /// session again with it, through the session cache.
    pub token_hash: String,
}

#[derive(Debug, Clone)]
pub enum Caller {
    /// No `authorization` header.
    Anonymous,
    /// A token that matches nothing, or was revoked or expired.
    Invalid,
    /// The token could not be checked (database unreachable).
    Unavailable,
    /// A valid caller whose workspace is over its request rate.
    RateLimited,
    Staff(StaffPrincipal),
    Hub(HubPrincipal),
}

impl Caller {
    pub fn staff(&self) -> Result<&StaffPrincipal, AppError> {
        match self {
            Caller::Staff(p) => Ok(p),
            Caller::Hub(_) => {
                Err(AppError::Unauthenticated("a HUB session cannot call this service; use an API key".into()))
            }
            Caller::Anonymous => Err(AppError::Unauthenticated("missing `authorization: Bearer <api key>`".into())),
            Caller::Invalid => Err(AppError::Unauthenticated("the API key is unknown or revoked".into())),
            Caller::Unavailable => Err(AppError::Unavailable("cannot check credentials now".into())),
            Caller::RateLimited => Err(rate_limited()),
        }
    }

    pub fn hub(&self) -> Result<&HubPrincipal, AppError> {
        match self {
            Caller::Hub(p) => Ok(p),
            Caller::Staff(_) => {
                Err(AppError::Unauthenticated("this call needs a HUB session token, not an API key".into()))
            }
            Caller::Anonymous => {
                Err(AppError::Unauthenticated("missing `authorization: Bearer <session token>`".into()))
            }
            Caller::Invalid => Err(AppError::Unauthenticated("the session is unknown or has ended".into())),
            Caller::Unavailable => Err(AppError::Unavailable("cannot check credentials now".into())),
            Caller::RateLimited => Err(rate_limited()),
        }
    }

    /// The workspace the caller acts in, if any.
    pub fn workspace_id(&self) -> Option<&Id> {
        match self {
            Caller::Staff(p) => Some(&p.workspace_id),
            Caller::Hub(p) => Some(&p.workspace_id),
            _ => None,
        }
    }
}

fn rate_limited() -> AppError {
    AppError::ResourceExhausted("too many requests for this workspace; slow down and retry".into())
}
