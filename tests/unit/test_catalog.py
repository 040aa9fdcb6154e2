"""Channel types and built-in model catalogue (oneapi.relay.catalog, scripts/gen_catalog.py)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from oneapi.relay import catalog
from oneapi.relay.catalog import (
    ADAPTOR_MODELS,
    CATALOGUE_ORDER,
    CATALOGUE_SOURCES,
    CHANNEL_TYPE_MODELS,
    CHANNEL_TYPES,
    ChannelType,
    catalogue_entry,
    channel_type,
    default_base_url,
    full_catalogue,
    list_models,
    models_by_type,
    models_for_type,
)
from oneapi.relay.catalog import data as catalog_data

ROOT = Path(__file__).resolve().parents[2]
MIRROR = Path("/work/.mirror/songquanpeng+one-api/repo")

PERMISSION = {
    "id": "modelperm-LwHkVFn8AcMItP432fKKDIKJ",
    "object": "model_permission",
    "created": 1626777600,
    "allow_create_engine": True,
    "allow_sampling": True,
    "allow_logprobs": True,
    "allow_search_indices": False,
    "allow_view": True,
    "allow_fine_tuning": False,
    "organization": "*",
    "group": None,
    "is_blocking": False,
}


def _load_generator() -> ModuleType:
    path = ROOT / "scripts" / "gen_catalog.py"
    spec = importlib.util.spec_from_file_location("gen_catalog", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    return _load_generator()


# --------------------------------------------------------------------------- counts


def test_counts() -> None:
    assert [row[0] for row in CHANNEL_TYPES] == list(range(52))
    assert len(ADAPTOR_MODELS) == 39
    assert len(CATALOGUE_SOURCES) == 34
    assert len(CATALOGUE_ORDER) == 492
    assert len({mid for mid, _ in CATALOGUE_ORDER}) == 471
    assert list(CHANNEL_TYPE_MODELS) == list(range(1, 52))
    sizes = {name: len(models) for name, models in ADAPTOR_MODELS.items()}
    assert sizes["openai"] == 53
    assert sizes["ali"] == 89
    assert sizes["openrouter"] == 231
    assert sizes["anthropic"] == 11
    assert sizes["Cohere"] == 12  # 6 models + their "-internet" variants
    assert sizes["aws"] == 12  # 10 Claude + 2 Llama 3
    assert sizes["vertexai"] == 17  # 6 Claude + 11 Gemini
    assert sizes["coze"] == 0
    assert sizes["proxy"] == 0


def test_generated_module_header() -> None:
    doc = catalog_data.__doc__ or ""
    assert "DO NOT EDIT" in doc
    assert "scripts/gen_catalog.py" in doc
    assert catalog_data.REFERENCE_COMMIT in doc
    assert len(catalog_data.REFERENCE_COMMIT) == 40


# --------------------------------------------------------------------------- channel types


def _t(type_id: int) -> ChannelType:
    found = channel_type(type_id)
    assert found is not None, type_id
    return found


def test_channel_type_spot_checks() -> None:
    openai = channel_type(1)
    assert openai == ChannelType(
        1, "OpenAI", "OpenAI", "https://api.openai.com", "openai", "openai"
    )
    assert default_base_url(1) == "https://api.openai.com"

    anthropic = channel_type(14)
    assert anthropic is not None
    assert (anthropic.name, anthropic.api_type, anthropic.channel_name) == (
        "Anthropic",
        "anthropic",
        "anthropic",
    )
    assert anthropic.base_url == "https://api.anthropic.com"

    deepseek = channel_type(36)
    assert deepseek is not None
    assert (deepseek.name, deepseek.label, deepseek.base_url) == (
        "DeepSeek",
        "DeepSeek",
        "https://api.deepseek.com",
    )
    assert (deepseek.api_type, deepseek.channel_name) == ("openai", "deepseek")

    assert default_base_url(50) == ""
    assert channel_type(50) == ChannelType(
        50, "OpenAICompatible", "OpenAI 兼容", "", "openai", "openai"
    )
    assert default_base_url(51) == "https://generativelanguage.googleapis.com/v1beta/openai/"
    assert _t(51).channel_name == "geminiv2"


def test_channel_type_table() -> None:
    no_url = {t.id for t in catalog.channel_types() if not t.base_url}
    assert no_url == {0, 3, 8, 18, 33, 42, 43, 50}
    api_types = {t.id: t.api_type for t in catalog.channel_types() if t.api_type != "openai"}
    assert api_types == {
        11: "palm",
        14: "anthropic",
        15: "baidu",
        16: "zhipu",
        17: "ali",
        18: "xunfei",
        21: "aiproxy",
        23: "tencent",
        24: "gemini",
        30: "ollama",
        33: "aws",
        34: "coze",
        35: "cohere",
        37: "cloudflare",
        38: "deepl",
        42: "vertexai",
        43: "proxy",
        46: "replicate",
    }
    assert _t(24).label == "Gemini"
    assert _t(15).label == "百度文心千帆"
    assert _t(2).label == "代理\uff1aAPI2D"
    assert _t(42).name == "VertextAI"
    assert _t(3).channel_name == "azure"
    assert channel_type(0) is not None
    assert channel_type(52) is None
    assert channel_type(-1) is None
    assert default_base_url(99) == ""


def test_channel_type_is_frozen() -> None:
    t = channel_type(1)
    assert t is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.base_url = "x"  # type: ignore[misc]


# --------------------------------------------------------------------------- per-type lists


def test_models_for_type() -> None:
    openai = list(ADAPTOR_MODELS["openai"])
    for tid in (1, 2, 3, 8, 21, 22, 50):  # OpenAI, proxies, Azure, custom, AI Proxy library
        assert models_for_type(tid) == openai
    assert models_for_type(14) == list(ADAPTOR_MODELS["anthropic"])
    assert models_for_type(36) == ["deepseek-chat", "deepseek-reasoner"]
    assert models_for_type(20) == list(ADAPTOR_MODELS["openrouter"])
    assert models_for_type(49) == list(ADAPTOR_MODELS["alibailian"])
    assert models_for_type(24) == models_for_type(51) == list(ADAPTOR_MODELS["geminiv2"])
    assert models_for_type(33)[:2] == ["claude-instant-1.2", "claude-2.0"]
    assert models_for_type(33)[-2:] == ["llama3-8b-8192", "llama3-70b-8192"]
    assert models_for_type(34) == []  # Coze: empty list
    assert models_for_type(43) == []  # Proxy: nil list
    assert models_for_type(0) == []  # not in the /api/models map
    assert models_for_type(1000) == []
    # a fresh list each call
    first = models_for_type(1)
    first.append("mutated")
    assert "mutated" not in models_for_type(1)


def test_models_by_type() -> None:
    by_type = models_by_type()
    assert list(by_type) == list(range(1, 52))
    assert by_type[43] is None
    assert by_type[34] == []
    assert by_type[1] == list(ADAPTOR_MODELS["openai"])
    assert by_type[17] == list(ADAPTOR_MODELS["ali"])
    encoded = json.loads(json.dumps(by_type))
    assert encoded["43"] is None
    assert encoded["36"] == ["deepseek-chat", "deepseek-reasoner"]


# --------------------------------------------------------------------------- catalogue


def test_catalogue_entry_shape() -> None:
    entry = catalogue_entry("gpt-4o")
    assert entry == {
        "id": "gpt-4o",
        "object": "model",
        "created": 1626777600,
        "owned_by": "openai",
        "permission": [PERMISSION],
        "root": "gpt-4o",
        "parent": None,
    }
    assert list(entry) == ["id", "object", "created", "owned_by", "permission", "root", "parent"]
    assert list(entry["permission"][0]) == list(PERMISSION)
    assert catalogue_entry("no-such-model") is None
    assert catalogue_entry("") is None


def test_catalogue_owners() -> None:
    def owner(model_id: str) -> str:
        entry = catalogue_entry(model_id)
        assert entry is not None, model_id
        return str(entry["owned_by"])

    assert owner("claude-3-5-haiku-latest") == "anthropic"  # only Anthropic lists it
    assert owner("gemini-1.5-pro") == "google gemini"
    assert owner("qwen-turbo") == "ali"
    assert owner("glm-4") == "zhipu"
    assert owner("ERNIE-4.0-8K") == "baidu"
    assert owner("deepseek-chat") == "deepseek"
    assert owner("command-r-internet") == "Cohere"
    assert owner("mistral-large-latest") == "mistralai"
    assert owner("grok-beta") == "xai"
    assert owner("claude-3-haiku@20240307") == "vertexai"
    assert owner("black-forest-labs/flux-schnell") == "replicate"
    # several owners: /v1/models/{model} reports the last one, like the reference's map
    assert owner("claude-3-opus-20240229") == "aws"
    assert owner("gemini-pro") == "vertexai"
    assert owner("deepseek-r1") == "baiduv2"
    assert owner("llama3-8b-8192") == "groq"


def test_catalogue_sources() -> None:
    assert CATALOGUE_SOURCES[:3] == ("openai", "anthropic", "google palm")
    assert CATALOGUE_SOURCES[-2:] == ("baiduv2", "xunfeiv2")
    # AI Proxy library, Azure and the compatible types absent from CompatibleChannels
    # contribute nothing to the catalogue.
    for name in ("aiproxy", "azure", "openrouter", "alibailian", "geminiv2"):
        assert name not in CATALOGUE_SOURCES
        assert name in ADAPTOR_MODELS
    openrouter_only = [m for m in ADAPTOR_MODELS["openrouter"] if not catalog.is_catalogue_model(m)]
    assert openrouter_only
    assert catalogue_entry(openrouter_only[0]) is None


def test_full_catalogue() -> None:
    entries = full_catalogue()
    assert [(e["id"], e["owned_by"]) for e in entries] == list(CATALOGUE_ORDER)
    assert entries[0]["id"] == "gpt-3.5-turbo"
    dups = Counter(e["id"] for e in entries)
    assert dups["claude-3-opus-20240229"] == 2
    assert all(e["permission"] == [PERMISSION] for e in entries)
    assert all(e["root"] == e["id"] and e["parent"] is None for e in entries)


# --------------------------------------------------------------------------- list_models


def test_list_models_order_and_custom() -> None:
    got = list_models(["my-custom-b", "gpt-4o", "my-custom-a", "gpt-3.5-turbo", "gpt-4o", "glm-4"])
    assert [(m["id"], m["owned_by"]) for m in got] == [
        ("gpt-3.5-turbo", "openai"),
        ("gpt-4o", "openai"),
        ("glm-4", "zhipu"),
        ("my-custom-b", "custom"),
        ("my-custom-a", "custom"),
    ]
    assert got[0] is catalogue_entry("gpt-3.5-turbo")
    assert got[3] == {
        "id": "my-custom-b",
        "object": "model",
        "created": 1626777600,
        "owned_by": "custom",
        "permission": None,
        "root": "my-custom-b",
        "parent": None,
    }
    assert list(got[3]) == list(got[0])


def test_list_models_duplicate_owners() -> None:
    got = list_models(["claude-3-opus-20240229", "gpt-4"])
    assert [(m["id"], m["owned_by"]) for m in got] == [
        ("gpt-4", "openai"),
        ("claude-3-opus-20240229", "anthropic"),
        ("claude-3-opus-20240229", "aws"),
    ]
    got = list_models(["claude-3-opus-20240229", "gpt-4"], dedupe=True)
    assert [(m["id"], m["owned_by"]) for m in got] == [
        ("gpt-4", "openai"),
        ("claude-3-opus-20240229", "anthropic"),
    ]


def test_list_models_edge_cases() -> None:
    assert list_models([]) == []
    assert list_models(iter(["x", "x"])) == list_models(["x"])
    everything = list_models(m for m, _ in CATALOGUE_ORDER)
    assert everything == full_catalogue()
    assert everything is not full_catalogue()


# --------------------------------------------------------------------------- generator


def test_data_module_is_consistent_with_generator(gen: ModuleType) -> None:
    """Re-render data.py from its own primary tables: the derived tables must match."""
    ref = gen.reference_from_module(catalog_data)
    text = (ROOT / "oneapi" / "relay" / "catalog" / "data.py").read_text(encoding="utf-8")
    assert gen.render(ref) == text


class FakeTree:
    commit = "0" * 40

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def read(self, path: str) -> str:
        return self.files[path]

    def list_go_files(self, directory: str) -> list[str]:
        prefix = directory.rstrip("/") + "/"
        return sorted(p for p in self.files if p.startswith(prefix) and "/" not in p[len(prefix) :])


GO_FIXTURE = {
    "a/list.go": """package a

import (
\tother "github.com/songquanpeng/one-api/b/sub"
)

// "commented-out" entries are ignored
var ModelList = []string{
\t"m1", "m2", // "m3",
\t/* "m4", */
\t"m5",
}

var Empty = []string{}

var Alias = other.ModelList

var Keys = map[string]string{
\t"k1": "v1",
\t"k2": "v2",
}

var (
\tfilled = map[string]int{}
)

func init() {
\tnum := len(ModelList)
\tfor i := 0; i < num; i++ {
\t\tModelList = append(ModelList, ModelList[i]+"-internet")
\t}
\tEmpty = append(Empty, other.ModelList...)
\tfor model := range Keys {
\t\tfilled[model] = 1
\t}
}
""",
    "b/sub/x.go": """package notsub

var ModelList = []string{"s1", `s2`}
""",
}


def test_resolver_go_idioms(gen: ModuleType) -> None:
    go = gen.Resolver(FakeTree(GO_FIXTURE))
    assert go.string_list("a", "ModelList") == [
        "m1",
        "m2",
        "m5",
        "m1-internet",
        "m2-internet",
        "m5-internet",
    ]
    assert go.string_list("a", "Empty") == ["s1", "s2"]
    assert go.string_list("a", "Alias") == ["s1", "s2"]
    assert go.map_keys("a", "Keys") == ["k1", "k2"]
    assert go.map_keys("a", "filled") == ["k1", "k2"]


def test_resolver_rejects_unknown_idioms(gen: ModuleType) -> None:
    files = {"a/x.go": 'package a\n\nvar ModelList = []string{"a", someVar}\n'}
    with pytest.raises(gen.SourceLayoutError):
        gen.Resolver(FakeTree(files)).string_list("a", "ModelList")
    files = {
        "a/x.go": 'package a\n\nvar ModelList = []string{"a"}\n\n'
        "func init() {\n\tModelList = filter(ModelList)\n}\n"
    }
    with pytest.raises(gen.SourceLayoutError):
        gen.Resolver(FakeTree(files)).string_list("a", "ModelList")


@pytest.mark.skipif(not MIRROR.is_dir(), reason="reference mirror not available")
def test_data_module_is_current(gen: ModuleType) -> None:
    """Extracting the pinned reference commit again reproduces data.py byte for byte."""
    try:
        ref = gen.extract(MIRROR, catalog_data.REFERENCE_COMMIT)
    except subprocess.CalledProcessError:
        pytest.skip("pinned reference commit not in the mirror")
    text = (ROOT / "oneapi" / "relay" / "catalog" / "data.py").read_text(encoding="utf-8")
    assert gen.render(ref) == text


@pytest.mark.skipif(not MIRROR.is_dir(), reason="reference mirror not available")
def test_check_mode(gen: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "data.py"
    rev = ["--rev", catalog_data.REFERENCE_COMMIT]
    try:
        subprocess.run(
            ["git", "-C", str(MIRROR), "cat-file", "-e", catalog_data.REFERENCE_COMMIT],
            check=True,
            capture_output=True,
        )
    except subprocess.CalledProcessError:
        pytest.skip("pinned reference commit not in the mirror")
    assert gen.main([*rev, "-o", str(out), "--check"]) == 1  # missing -> stale
    assert gen.main([*rev, "-o", str(out)]) == 0
    assert gen.main([*rev, "-o", str(out), "--check"]) == 0
    out.write_text(out.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    assert gen.main([*rev, "-o", str(out), "--check"]) == 1
