"""A CLIP in PyTorch with the module structure of Hugging Face's CLIPModel.

The parameter names and the operator sequence follow CLIPModel (bmm-based attention with
separate q/k/v/out projections, quick_gelu MLP, pre-LayerNorm on the vision side, argmax pooling
of the text at the end-of-text token), so the ONNX export has the same shape as the published
transformers.js exports: MatMul -> Softmax -> MatMul per attention layer, no fused ops.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, asdict

import torch
from torch import nn


@dataclass
class TowerConfig:
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    layer_norm_eps: float = 1e-5


@dataclass
class VisionConfig(TowerConfig):
    image_size: int = 224
    patch_size: int = 32
    num_channels: int = 3


@dataclass
class TextConfig(TowerConfig):
    vocab_size: int = 49408
    max_position_embeddings: int = 77
    bos_token_id: int = 49406
    eos_token_id: int = 49407
    pad_token_id: int = 1


@dataclass
class ClipConfig:
    vision: VisionConfig
    text: TextConfig
    projection_dim: int = 512
    logit_scale_init_value: float = 2.6592

    def to_hf(self, name: str) -> dict:
        """config.json in the Hugging Face CLIPConfig layout."""
        def tower(c: TowerConfig, model_type: str) -> dict:
            d = asdict(c)
            d.update(model_type=model_type, hidden_act="quick_gelu", attention_dropout=0.0,
                     dropout=0.0, initializer_factor=1.0, initializer_range=0.02,
                     projection_dim=self.projection_dim)
            return d
        return {
            "_name_or_path": name,
            "architectures": ["CLIPModel"],
            "model_type": "clip",
            "projection_dim": self.projection_dim,
            "logit_scale_init_value": self.logit_scale_init_value,
            "initializer_factor": 1.0,
            "text_config": tower(self.text, "clip_text_model"),
            "vision_config": tower(self.vision, "clip_vision_model"),
            "torch_dtype": "float32",
        }


class ClipAttention(nn.Module):
    def __init__(self, c: TowerConfig):
        super().__init__()
        self.embed_dim = c.hidden_size
        self.num_heads = c.num_attention_heads
        self.head_dim = c.hidden_size // c.num_attention_heads
        assert self.head_dim * self.num_heads == self.embed_dim
        self.scale = self.head_dim ** -0.5
        self.k_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.v_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.q_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim)
        # Hooks for explanation: when set, `delta` (same shape as the attention probabilities,
        # (batch*heads, seq, seq)) is added after the softmax, and the probabilities are kept.
        self.delta: torch.Tensor | None = None
        self.last_probs: torch.Tensor | None = None

    def _shape(self, t: torch.Tensor, seq: int, bsz: int) -> torch.Tensor:
        return t.view(bsz, seq, self.num_heads, self.head_dim).transpose(1, 2).contiguous()

    def forward(self, x: torch.Tensor, causal_mask: torch.Tensor | None) -> torch.Tensor:
        bsz, seq, _ = x.shape
        q = self.q_proj(x) * self.scale
        k = self._shape(self.k_proj(x), seq, bsz)
        v = self._shape(self.v_proj(x), seq, bsz)
        shape = (bsz * self.num_heads, -1, self.head_dim)
        q = self._shape(q, seq, bsz).view(*shape)
        k = k.view(*shape)
        v = v.view(*shape)
        w = torch.bmm(q, k.transpose(1, 2))  # (bsz*heads, seq, seq)
        if causal_mask is not None:
            w = w.view(bsz, self.num_heads, seq, seq) + causal_mask
            w = w.view(bsz * self.num_heads, seq, seq)
        p = nn.functional.softmax(w, dim=-1)
        if self.delta is not None:
            p = p + self.delta
        self.last_probs = p
        out = torch.bmm(p, v)
        out = out.view(bsz, self.num_heads, seq, self.head_dim).transpose(1, 2)
        out = out.reshape(bsz, seq, self.embed_dim)
        return self.out_proj(out)


class ClipMLP(nn.Module):
    def __init__(self, c: TowerConfig):
        super().__init__()
        self.fc1 = nn.Linear(c.hidden_size, c.intermediate_size)
        self.fc2 = nn.Linear(c.intermediate_size, c.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(x)
        h = h * torch.sigmoid(1.702 * h)  # quick_gelu
        return self.fc2(h)


class ClipEncoderLayer(nn.Module):
    def __init__(self, c: TowerConfig):
        super().__init__()
        self.self_attn = ClipAttention(c)
        self.layer_norm1 = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.mlp = ClipMLP(c)
        self.layer_norm2 = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, x: torch.Tensor, causal_mask: torch.Tensor | None) -> torch.Tensor:
        x = x + self.self_attn(self.layer_norm1(x), causal_mask)
        return x + self.mlp(self.layer_norm2(x))


class ClipEncoder(nn.Module):
    def __init__(self, c: TowerConfig):
        super().__init__()
        self.layers = nn.ModuleList([ClipEncoderLayer(c) for _ in range(c.num_hidden_layers)])

    def forward(self, x: torch.Tensor, causal_mask: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, causal_mask)
        return x


class ClipVisionEmbeddings(nn.Module):
    def __init__(self, c: VisionConfig):
        super().__init__()
        self.class_embedding = nn.Parameter(torch.randn(c.hidden_size))
        self.patch_embedding = nn.Conv2d(c.num_channels, c.hidden_size, c.patch_size, c.patch_size, bias=False)
        self.num_positions = (c.image_size // c.patch_size) ** 2 + 1
        self.position_embedding = nn.Embedding(self.num_positions, c.hidden_size)
        self.register_buffer("position_ids", torch.arange(self.num_positions).unsqueeze(0), persistent=False)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        b = pixel_values.shape[0]
        patches = self.patch_embedding(pixel_values).flatten(2).transpose(1, 2)
        cls = self.class_embedding.expand(b, 1, -1)
        return torch.cat([cls, patches], dim=1) + self.position_embedding(self.position_ids)


class ClipVisionTransformer(nn.Module):
    def __init__(self, c: VisionConfig):
        super().__init__()
        self.embeddings = ClipVisionEmbeddings(c)
        self.pre_layrnorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)  # sic, as in CLIPModel
        self.encoder = ClipEncoder(c)
        self.post_layernorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        h = self.pre_layrnorm(self.embeddings(pixel_values))
        h = self.encoder(h)
        return self.post_layernorm(h[:, 0, :])


class ClipTextTransformer(nn.Module):
    def __init__(self, c: TextConfig):
        super().__init__()
        self.config = c
        self.embeddings = nn.Module()
        self.embeddings.token_embedding = nn.Embedding(c.vocab_size, c.hidden_size)
        self.embeddings.position_embedding = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.encoder = ClipEncoder(c)
        self.final_layer_norm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        seq = input_ids.shape[1]
        pos = torch.arange(seq, device=input_ids.device).unsqueeze(0)
        h = self.embeddings.token_embedding(input_ids) + self.embeddings.position_embedding(pos)
        # Causal mask, additive; -1e4 rather than -inf keeps fp16 variants finite.
        mask = torch.full((seq, seq), -1e4, device=input_ids.device).triu(1)[None, None]
        h = self.encoder(h, mask)
        h = self.final_layer_norm(h)
        # Pool at the end-of-text token: it has the largest id (49407), so argmax finds it.
        eot = input_ids.to(torch.int64).argmax(dim=-1)
        return h[torch.arange(h.shape[0], device=h.device), eot]


class ClipModel(nn.Module):
    def __init__(self, c: ClipConfig):
        super().__init__()
        self.config = c
        self.vision_model = ClipVisionTransformer(c.vision)
        self.text_model = ClipTextTransformer(c.text)
        self.visual_projection = nn.Linear(c.vision.hidden_size, c.projection_dim, bias=False)
        self.text_projection = nn.Linear(c.text.hidden_size, c.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(c.logit_scale_init_value))
        self._init()

    def _init(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Embedding):
                nn.init.normal_(m.weight, std=0.02)
        nn.init.normal_(self.vision_model.embeddings.class_embedding, std=0.02)
        nn.init.normal_(self.vision_model.embeddings.patch_embedding.weight, std=0.02)

    def image_embeds(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.visual_projection(self.vision_model(pixel_values))

    def text_embeds(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.text_projection(self.text_model(input_ids))

    def attention_modules(self, tower: str) -> list[ClipAttention]:
        enc = self.vision_model.encoder if tower == "vision" else self.text_model.encoder
        return [l.self_attn for l in enc.layers]


class VisionWithProjection(nn.Module):
    """pixel_values -> image_embeds, the interface of the published vision_model.onnx."""
    def __init__(self, m: ClipModel):
        super().__init__()
        self.vision_model = m.vision_model
        self.visual_projection = m.visual_projection

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.visual_projection(self.vision_model(pixel_values))


class TextWithProjection(nn.Module):
    """input_ids -> text_embeds, the interface of the published text_model.onnx."""
    def __init__(self, m: ClipModel):
        super().__init__()
        self.text_model = m.text_model
        self.text_projection = m.text_projection

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.text_projection(self.text_model(input_ids))


BUNDLED_VISION_WIDTH = 128


def bundled_config(image_size: int | None = None, patch_size: int | None = None,
                   vision_width: int | None = None) -> ClipConfig:
    """The small model shipped with the app: 144-px input, 12-px patches (12x12 grid). The
    training stages before the last run on an 8x8 grid (64 px with 8-px patches, 96 px with 12,
    128 px with 16: cheaper steps), and at a narrower vision tower than the last (widen.py); heads
    are 16 wide."""
    width = vision_width or BUNDLED_VISION_WIDTH
    return ClipConfig(
        vision=VisionConfig(hidden_size=width, intermediate_size=4 * width, num_hidden_layers=4,
                            num_attention_heads=width // 16, image_size=image_size or 144, patch_size=patch_size or 12),
        text=TextConfig(hidden_size=48, intermediate_size=192, num_hidden_layers=3,
                        num_attention_heads=4),
        projection_dim=64,
    )


def vision_width_of(state: dict) -> int:
    """The vision tower's width of a state dict (checkpoints of different stages differ)."""
    return int(state["vision_model.embeddings.class_embedding"].shape[0])


def bundled_config_of(state: dict) -> ClipConfig:
    """The bundled architecture at the input size, patch size and vision width a state dict was
    trained with (stages differ in all three): the patch kernel gives the patch side, the position
    embedding's rows the grid."""
    patch = int(state["vision_model.embeddings.patch_embedding.weight"].shape[-1])
    grid = math.isqrt(int(state["vision_model.embeddings.position_embedding.weight"].shape[0]) - 1)
    return bundled_config(grid * patch, patch, vision_width_of(state))


def lookalike_config(name: str) -> ClipConfig:
    """Real OpenAI CLIP architectures (random weights) for benchmarks."""
    text = TextConfig(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8)
    if name == "vit-base-patch32":
        return ClipConfig(VisionConfig(768, 3072, 12, 12, image_size=224, patch_size=32), text, 512)
    if name == "vit-base-patch16":
        return ClipConfig(VisionConfig(768, 3072, 12, 12, image_size=224, patch_size=16), text, 512)
    if name == "vit-large-patch14":
        text = TextConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12)
        return ClipConfig(VisionConfig(1024, 4096, 24, 16, image_size=224, patch_size=14), text, 768)
    raise ValueError(f"unknown lookalike {name!r}")
