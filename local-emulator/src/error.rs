//! The one error type of the emulator. Every failure an action can report is a variant of
//! [`ErrorCode`], which knows its JSON shape name, its legacy (Query) code, its fault side and
//! its HTTP status exactly as Amazon SQS sends them. Rendering to the wire happens only in
//! `protocol`.

use std::fmt;

/// An SQS error with the message the client will see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsError {
    pub code: ErrorCode,
    pub message: String,
}

impl SqsError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn queue_does_not_exist() -> Self {
        Self::new(
            ErrorCode::QueueDoesNotExist,
            "The specified queue does not exist.",
        )
    }

    pub fn missing(parameter: &str) -> Self {
        Self::new(
            ErrorCode::MissingParameter,
            format!("The request must contain the parameter {parameter}."),
        )
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterValue, message)
    }

    /// `Value X for parameter P is invalid. Reason: R.` — SQS's wording for range errors.
    pub fn invalid_value(value: impl fmt::Display, parameter: &str, reason: &str) -> Self {
        Self::invalid_parameter(format!(
            "Value {value} for parameter {parameter} is invalid. Reason: {reason}"
        ))
    }

    pub fn invalid_attribute_value(attribute: &str) -> Self {
        Self::new(
            ErrorCode::InvalidAttributeValue,
            format!("Invalid value for the parameter {attribute}."),
        )
    }

    pub fn unknown_attribute(attribute: &str) -> Self {
        Self::new(
            ErrorCode::InvalidAttributeName,
            format!("Unknown Attribute {attribute}."),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, message)
    }
}

impl fmt::Display for SqsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.shape(), self.message)
    }
}

impl std::error::Error for SqsError {}

/// A change the store could not make durable is not acknowledged: 500.
impl From<crate::store::StoreError> for SqsError {
    fn from(error: crate::store::StoreError) -> Self {
        Self::internal(format!("storage failure: {error}"))
    }
}

/// Every error code the emulator answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    EmptyBatchRequest,
    InvalidAction,
    InvalidAddress,
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidBatchEntryId,
    InvalidIdFormat,
    InvalidMessageContents,
    InvalidParameterValue,
    InvalidSecurity,
    MessageNotInflight,
    MissingParameter,
    OverLimit,
    PurgeQueueInProgress,
    QueueDeletedRecently,
    QueueDoesNotExist,
    QueueNameExists,
    ReceiptHandleIsInvalid,
    RequestExpired,
    RequestTooLarge,
    RequestTimeout,
    AccessDenied,
    ResourceNotFound,
    SerializationException,
    TooManyEntriesInBatchRequest,
    UnknownOperation,
    UnsupportedOperation,
    InternalError,
    IncompleteSignature,
    InvalidClientTokenId,
    MissingAuthenticationToken,
    SignatureDoesNotMatch,
}

impl ErrorCode {
    /// The shape name used in the JSON `__type` and `x-amzn-errortype`.
    pub fn shape(self) -> &'static str {
        use ErrorCode::*;
        match self {
            BatchEntryIdsNotDistinct => "BatchEntryIdsNotDistinct",
            BatchRequestTooLong => "BatchRequestTooLong",
            EmptyBatchRequest => "EmptyBatchRequest",
            InvalidAction => "InvalidAction",
            InvalidAddress => "InvalidAddress",
            InvalidAttributeName => "InvalidAttributeName",
            InvalidAttributeValue => "InvalidAttributeValue",
            InvalidBatchEntryId => "InvalidBatchEntryId",
            InvalidIdFormat => "InvalidIdFormat",
            InvalidMessageContents => "InvalidMessageContents",
            InvalidParameterValue => "InvalidParameterValueException",
            InvalidSecurity => "InvalidSecurity",
            MessageNotInflight => "MessageNotInflight",
            MissingParameter => "MissingRequiredParameterException",
            OverLimit => "OverLimit",
            PurgeQueueInProgress => "PurgeQueueInProgress",
            QueueDeletedRecently => "QueueDeletedRecently",
            QueueDoesNotExist => "QueueDoesNotExist",
            QueueNameExists => "QueueNameExists",
            ReceiptHandleIsInvalid => "ReceiptHandleIsInvalid",
            RequestExpired => "RequestExpired",
            RequestTooLarge => "RequestEntityTooLarge",
            RequestTimeout => "RequestTimeout",
            AccessDenied => "AccessDeniedException",
            ResourceNotFound => "ResourceNotFoundException",
            SerializationException => "SerializationException",
            TooManyEntriesInBatchRequest => "TooManyEntriesInBatchRequest",
            UnknownOperation => "UnknownOperationException",
            UnsupportedOperation => "UnsupportedOperation",
            InternalError => "InternalError",
            IncompleteSignature => "IncompleteSignature",
            InvalidClientTokenId => "InvalidClientTokenId",
            MissingAuthenticationToken => "MissingAuthenticationToken",
            SignatureDoesNotMatch => "SignatureDoesNotMatch",
        }
    }

    /// The fully qualified JSON type, e.g. `com.amazonaws.sqs#QueueDoesNotExist`.
    pub fn qualified_type(self) -> String {
        match self {
            ErrorCode::SerializationException
            | ErrorCode::InvalidAction
            | ErrorCode::UnknownOperation => {
                format!("com.amazon.coral.service#{}", self.shape())
            }
            _ => format!("com.amazonaws.sqs#{}", self.shape()),
        }
    }

    /// The legacy code: `<Code>` in Query replies and the `x-amzn-query-error` header.
    pub fn legacy_code(self) -> &'static str {
        use ErrorCode::*;
        match self {
            BatchEntryIdsNotDistinct => "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            BatchRequestTooLong => "AWS.SimpleQueueService.BatchRequestTooLong",
            EmptyBatchRequest => "AWS.SimpleQueueService.EmptyBatchRequest",
            InvalidAction => "InvalidAction",
            InvalidAddress => "InvalidAddress",
            InvalidAttributeName => "InvalidAttributeName",
            InvalidAttributeValue => "InvalidAttributeValue",
            InvalidBatchEntryId => "AWS.SimpleQueueService.InvalidBatchEntryId",
            InvalidIdFormat => "InvalidIdFormat",
            InvalidMessageContents => "InvalidMessageContents",
            InvalidParameterValue => "InvalidParameterValue",
            InvalidSecurity => "InvalidSecurity",
            MessageNotInflight => "AWS.SimpleQueueService.MessageNotInflight",
            MissingParameter => "MissingParameter",
            OverLimit => "OverLimit",
            PurgeQueueInProgress => "AWS.SimpleQueueService.PurgeQueueInProgress",
            QueueDeletedRecently => "AWS.SimpleQueueService.QueueDeletedRecently",
            QueueDoesNotExist => "AWS.SimpleQueueService.NonExistentQueue",
            QueueNameExists => "QueueAlreadyExists",
            ReceiptHandleIsInvalid => "ReceiptHandleIsInvalid",
            RequestExpired => "RequestExpired",
            RequestTooLarge => "RequestEntityTooLarge",
            RequestTimeout => "RequestTimeout",
            AccessDenied => "AccessDenied",
            ResourceNotFound => "ResourceNotFoundException",
            SerializationException => "SerializationException",
            TooManyEntriesInBatchRequest => "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            UnknownOperation => "UnknownOperationException",
            UnsupportedOperation => "AWS.SimpleQueueService.UnsupportedOperation",
            InternalError => "InternalError",
            IncompleteSignature => "IncompleteSignature",
            InvalidClientTokenId => "InvalidClientTokenId",
            MissingAuthenticationToken => "MissingAuthenticationToken",
            SignatureDoesNotMatch => "SignatureDoesNotMatch",
        }
    }

    /// True when the caller is at fault (`Sender`), false for `Receiver` faults.
    pub fn sender_fault(self) -> bool {
        !matches!(self, ErrorCode::InternalError)
    }

    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            InvalidAddress | ReceiptHandleIsInvalid | ResourceNotFound | UnknownOperation => 404,
            InvalidSecurity
            | AccessDenied
            | OverLimit
            | PurgeQueueInProgress
            | IncompleteSignature
            | InvalidClientTokenId
            | MissingAuthenticationToken
            | SignatureDoesNotMatch => 403,
            InternalError => 500,
            RequestTooLarge => 413,
            RequestTimeout => 408,
            _ => 400,
        }
    }
}

pub type SqsResult<T> = Result<T, SqsError>;
