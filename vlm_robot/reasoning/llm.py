"""Chat language models behind one small interface, each backend importing its library lazily."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from vlm_robot.core.assets import CHAT_LLM
from vlm_robot.core.errors import BackendUnavailableError, ConfigError, ModelNotFoundError


@dataclass(frozen=True)
class LLMConfig:
    """Chat model settings (config/reasoning.yaml ``llm.*``).

    Attributes:
        backend: name in :data:`BACKENDS`.
        model_path: a GGUF file; empty means the packaged SmolLM2-135M-Instruct.
        max_tokens: reply length cap; the robot speaks short sentences.
        temperature: 0 gives the same reply to the same prompt (golden replays rely on it).
        n_threads: llama.cpp threads, for generation and for the prompt's batch (llama-cpp-python's default batch
            threads are all cores: open talk's checked reply took p50 754 ms instead of 464 ms beside one busy
            core, 380 vs 399 ms idle; 8 sentences x 2 on the 2-core development machine).
        parallel_candidates: instances of the model open talk draws its candidates on, side by side (2: the greedy
            candidate and the first sampled one together; +43 MB a helper, the weights are shared through mmap).
            Measured: two 20-token candidates in 317 ms instead of 550 ms on the 2-core development machine.
        history_turns: earlier messages put in the prompt. 0 for the packaged 135M model, which
            copies its previous answer when it sees one; 6 suits a 1B+ model.
    """

    backend: str = "llama_cpp"
    model_path: str = ""
    n_ctx: int = 1024
    n_threads: int = 1
    max_tokens: int = 48
    temperature: float = 0.0
    repeat_penalty: float = 1.3
    seed: int = 0
    history_turns: int = 0
    parallel_candidates: int = 2

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"llm.backend {self.backend!r} unknown; expected one of {sorted(BACKENDS)}")
        if not 1 <= self.max_tokens <= 512:
            raise ConfigError(f"llm.max_tokens must be in [1, 512], got {self.max_tokens}")
        if not 0 <= self.history_turns <= 64:
            raise ConfigError(f"llm.history_turns must be in [0, 64], got {self.history_turns}")
        if not 1 <= self.parallel_candidates <= 3:
            raise ConfigError(f"llm.parallel_candidates must be in [1, 3], got {self.parallel_candidates}")
        if self.temperature < 0:
            raise ConfigError(f"llm.temperature must be >= 0, got {self.temperature}")


class ChatModel(Protocol):
    def stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        """Yield the reply's text pieces as they are generated."""
        ...

    def close(self) -> None: ...


class LlamaCppChat:
    """A GGUF chat model run by llama.cpp (``llama-cpp-python``)."""

    def __init__(self, config: LLMConfig) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as e:
            raise BackendUnavailableError(
                "llm backend 'llama_cpp' needs llama-cpp-python: `pip install llama-cpp-python==0.3.36` "
                "(builds from source, about 7 minutes on 2 cores)"
            ) from e
        if config.model_path:
            path = Path(config.model_path).expanduser()
            if not path.is_file():
                raise ModelNotFoundError(
                    f"llm.model_path {str(path)!r} does not exist; give a GGUF file or leave it empty for the "
                    f"packaged SmolLM2 ({CHAT_LLM.pip})"
                )
        else:
            path = CHAT_LLM.path()
        self.config = config
        self.model_name = path.name
        self._llm = Llama(
            model_path=str(path), n_ctx=config.n_ctx, n_threads=config.n_threads,
            n_threads_batch=config.n_threads, seed=config.seed, verbose=False
        )
        # The first evaluation pays for paging the weights in (1.8 s measured here): pay it at load,
        # not on the first thing a person says.
        for _ in self.stream([{"role": "user", "content": "Hello"}], 1):
            pass

    def stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        return self._pieces(messages, max_tokens, temperature=self.config.temperature, seed=self.config.seed)

    def sample(self, messages: list[dict[str, str]], max_tokens: int, temperature: float, seed: int,
               top_p: float = 0.9) -> Iterator[str]:
        """Like :meth:`stream` with this call's sampling: ``temperature`` > 0 draws a different reply per
        ``seed`` (the same seed gives the same reply); used for open talk's extra candidates."""
        return self._pieces(messages, max_tokens, temperature=temperature, seed=seed, top_p=top_p)

    def _pieces(self, messages: list[dict[str, str]], max_tokens: int, **sampling: float) -> Iterator[str]:
        chunks = self._llm.create_chat_completion(
            messages=messages,
            max_tokens=max_tokens,
            repeat_penalty=self.config.repeat_penalty,
            stream=True,
            **sampling,
        )
        for chunk in chunks:
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                yield piece

    def close(self) -> None:
        close = getattr(self._llm, "close", None)
        if close is not None:
            close()


BACKENDS: dict[str, Callable[[LLMConfig], ChatModel]] = {"llama_cpp": LlamaCppChat}


def load_chat_model(config: LLMConfig) -> ChatModel:
    """Build the configured backend (imports its library only now)."""
    return BACKENDS[config.backend](config)
