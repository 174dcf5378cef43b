"""google.rpc error details of a failed call."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status


def _details(rpc_error: grpc.RpcError) -> list[any_pb2.Any]:
    """The details of the google.rpc.Status in the error's trailers, if any."""
    if not isinstance(rpc_error, grpc.Call):
        return []
    status = rpc_status.from_call(rpc_error)
    return list(status.details) if status is not None else []


def field_violations(rpc_error: grpc.RpcError) -> list[error_details_pb2.BadRequest.FieldViolation]:
    """The ``google.rpc.BadRequest`` field violations of an ``INVALID_ARGUMENT``
    error (e.g. ``customer.email``), decoded from ``grpc-status-details-bin``;
    empty when it carries none."""
    out: list[error_details_pb2.BadRequest.FieldViolation] = []
    for detail in _details(rpc_error):
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            out.extend(bad_request.field_violations)
    return out


def precondition_violations(rpc_error: grpc.RpcError) -> list[error_details_pb2.PreconditionFailure.Violation]:
    """The ``google.rpc.PreconditionFailure`` violations of a ``FAILED_PRECONDITION`` error."""
    out: list[error_details_pb2.PreconditionFailure.Violation] = []
    for detail in _details(rpc_error):
        if detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
            failure = error_details_pb2.PreconditionFailure()
            detail.Unpack(failure)
            out.extend(failure.violations)
    return out
