//! Chat templates: the model's own template from its GGUF metadata when it has one, and a
//! ChatML fallback otherwise. llama.cpp's template engine turns messages into prompt text.

use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};

use crate::engine::{ChatMessage, EngineError};

/// The template used when a model carries none (ChatML, llama.cpp's built-in name).
pub const FALLBACK_TEMPLATE: &str = "chatml";

/// A chat template and where it came from.
pub struct ChatTemplate {
    template: LlamaChatTemplate,
    from_model: bool,
}

impl ChatTemplate {
    /// The model's template, or the fallback when the GGUF has none.
    pub(crate) fn for_model(model: &LlamaModel) -> Result<Self, EngineError> {
        match model.chat_template(None) {
            Ok(template) => Ok(Self {
                template,
                from_model: true,
            }),
            Err(_) => Ok(Self {
                template: LlamaChatTemplate::new(FALLBACK_TEMPLATE)
                    .map_err(|e| EngineError::Template(e.to_string()))?,
                from_model: false,
            }),
        }
    }

    /// Whether the template came from the model file.
    pub fn from_model(&self) -> bool {
        self.from_model
    }

    /// The prompt for `messages`, ending where the assistant's next message begins.
    pub(crate) fn render(
        &self,
        model: &LlamaModel,
        messages: &[ChatMessage],
    ) -> Result<String, EngineError> {
        let chat = messages
            .iter()
            .map(|m| LlamaChatMessage::new(m.role.as_str().to_owned(), m.content.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| EngineError::Template("a message contains a NUL character".into()))?;
        model
            .apply_chat_template(&self.template, &chat, true)
            .map_err(|e| EngineError::Template(e.to_string()))
    }
}
