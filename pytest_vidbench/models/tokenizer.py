"""A tiny word-level tokenizer built in code, so the built-in models never touch the HF hub.

Real pipelines ship T5 / CLIP / Llama tokenizers that must be downloaded; the built-in zoo only
needs *a* deterministic tokenizer that the pipelines can call with ``padding="max_length"`` and
that survives ``save_pretrained`` -> ``from_pretrained``. A ``tokenizers`` WordLevel model over a
fixed vocabulary, wrapped in ``transformers.PreTrainedTokenizerFast``, is exactly that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import WordLevel

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

TokenizerStyle = Literal["t5", "clip", "llama"]

PAD, EOS, UNK, BOS = "<pad>", "</s>", "<unk>", "<s>"
# Fixed ids: text-encoder configs (pad/bos/eos_token_id) are built against these.
SPECIAL_TOKENS: tuple[str, ...] = (PAD, EOS, UNK, BOS)
PAD_ID, EOS_ID, UNK_ID, BOS_ID = range(len(SPECIAL_TOKENS))

# Enough everyday video-prompt words to write varied prompts; order is part of the contract
# (ids feed seeded random embeddings), so only ever append.
_WORDS = """
a an the of in on at to with and or through over under into across near by from for its their
is are was be being his her this that it while as up down around behind along between
red orange yellow green blue purple pink brown black white gray grey golden silver dark bright
fox dog cat horse bird eagle owl fish whale dolphin shark bear wolf deer rabbit squirrel tiger
lion elephant monkey panda penguin duck swan butterfly bee dragon robot person man woman child
girl boy astronaut knight dancer chef surfer skier runner cyclist
running walking jumping flying swimming dancing eating sleeping sitting standing riding playing
surfing skiing driving falling spinning rolling floating climbing chasing waving singing
cooking reading smiling looking turning glowing burning melting growing moving racing drifting
snow rain fog wind storm sun sunset sunrise sky cloud clouds moon stars star night day morning
evening light shadow fire smoke water wave waves ocean sea lake river waterfall beach sand
desert forest tree trees leaves grass flower flowers garden field mountain mountains hill
valley cave island volcano ice glacier city street road bridge tower building house castle
room kitchen window door car train boat ship plane bicycle balloon kite ball guitar piano
fresh cold warm hot calm wild quiet busy old new small big tiny huge tall long slow fast
happy sad beautiful colorful misty snowy rainy sunny cloudy foggy neon ancient futuristic
cinematic realistic animated cartoon painting photo closeup aerial wide shot view camera
pan zoom slowly quickly gently time lapse motion video scene style detailed high quality
low blurry distorted bad ugly worst noisy static
onto out off above below inside outside toward together alone some many two three
retriever puppy kitten cow sheep frog turtle snake octopus jellyfish crab
sandy rocky wooden stone glass metal paper soft shiny smooth rough wet dry frozen
bamboo palm pine jungle meadow farm village park pond road path lighthouse harbor
rainbow lightning thunder dust mist steam
, . !
"""

VOCAB: tuple[str, ...] = SPECIAL_TOKENS + tuple(dict.fromkeys(_WORDS.split()))
# Embedding tables get a round size a little above the vocabulary (multiple of 64).
VOCAB_SIZE: int = -(-len(VOCAB) // 64) * 64


def _post_processor(style: TokenizerStyle) -> processors.TemplateProcessing:
    # Mimic each family's special-token layout: T5 appends </s>, CLIP wraps in <s> ... </s>
    # (its pooled output is read at the first eos), Llama prepends <s>.
    single = {"t5": f"$A {EOS}", "clip": f"{BOS} $A {EOS}", "llama": f"{BOS} $A"}[style]
    pair = {"t5": f"$A {EOS} $B {EOS}", "clip": f"{BOS} $A {EOS} $B {EOS}",
            "llama": f"{BOS} $A {BOS} $B"}[style]
    return processors.TemplateProcessing(
        single=single, pair=pair, special_tokens=[(EOS, EOS_ID), (BOS, BOS_ID)]
    )


def build_backend(style: TokenizerStyle = "t5") -> Tokenizer:
    """The raw ``tokenizers.Tokenizer``: lowercase, split on whitespace/punctuation, look up."""
    tok = Tokenizer(WordLevel(vocab={w: i for i, w in enumerate(VOCAB)}, unk_token=UNK))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = _post_processor(style)
    tok.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces on decode
    return tok


def build_tokenizer(
    style: TokenizerStyle = "t5", model_max_length: int = 16
) -> PreTrainedTokenizerFast:
    """A ``PreTrainedTokenizerFast`` that pipelines can pad to ``model_max_length``.

    CLIP-style pipelines (AnimateDiff, TextToVideoSD) pad to ``tokenizer.model_max_length``, so
    keep it equal to the text encoder's ``max_position_embeddings``.
    """
    from transformers import PreTrainedTokenizerFast  # heavy: only when a model is built

    return PreTrainedTokenizerFast(
        tokenizer_object=build_backend(style),
        model_max_length=model_max_length,
        pad_token=PAD,
        eos_token=EOS,
        unk_token=UNK,
        bos_token=BOS,
        padding_side="right",
        truncation_side="right",
        clean_up_tokenization_spaces=False,
    )


def in_vocabulary(text: str) -> bool:
    """Whether every word of ``text`` is known (unknown words all collapse onto ``<unk>``)."""
    tok = build_backend()
    return UNK_ID not in tok.encode(text).ids
