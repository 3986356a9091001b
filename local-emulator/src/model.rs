//! What a template needs of SQS's queue model, from the code that validates requests, so a
//! template is checked by the same rules (and bounds) as a CreateQueue call.

pub use crate::actions::validate::queue_name as validate_queue_name;
pub use crate::error::SqsError;
pub use crate::queue::attributes::{
    MAX_RECEIVE_COUNT, NUMERIC as NUMERIC_ATTRIBUTES, QueueAttributes,
};
