//! Reads the `Caller` that the auth layer put into the request.
use crate::domain::{Caller, HubPrincipal, StaffPrincipal};
use tonic::{Request, Status};

fn caller<T>(req: &Request<T>) -> Caller {
    req.extensions().get::<Caller>().cloned().unwrap_or(Caller::Anonymous)
}

pub fn staff<T>(req: &Request<T>) -> Result<StaffPrincipal, Status> {
    Ok(caller(req).staff()?.clone())
}

pub fn hub<T>(req: &Request<T>) -> Result<HubPrincipal, Status> {
    Ok(caller(req).hub()?.clone())
}
