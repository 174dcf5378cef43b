import { ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  PreconditionFailureSchema,
  type BadRequest_FieldViolation,
  type PreconditionFailure_Violation,
} from "./gen/google/rpc/error_details_pb.js";

/**
 * The `google.rpc.BadRequest` field violations of an `INVALID_ARGUMENT` error
 * (from `grpc-status-details-bin`), e.g. `customer.email`; empty when it has none.
 */
export function fieldViolations(error: unknown): BadRequest_FieldViolation[] {
  return ConnectError.from(error)
    .findDetails(BadRequestSchema)
    .flatMap((badRequest) => badRequest.fieldViolations);
}

/** The `google.rpc.PreconditionFailure` violations of a `FAILED_PRECONDITION` error. */
export function preconditionViolations(error: unknown): PreconditionFailure_Violation[] {
  return ConnectError.from(error)
    .findDetails(PreconditionFailureSchema)
    .flatMap((failure) => failure.violations);
}
