"""Where an SGLang rank's pages live: its store directory, its namespace and
its page keys.

Isolation: two backends read each other's pages only when they agree on the
model name, the optional model_id (the weights' identity: a fine-tune shares
the name), the TP rank and size (omitted for MLA, whose KV every rank holds
whole), the PP and attention-CP rank and size, the KV dtype, the host pool's
layout and the bytes of a page: all of them are in the namespace name, so
pages of another configuration are never found (the store keys pages by
namespace).

Directories: a store is open in one process at a time, and each SGLang rank
is a process, so each rank has its own subdirectory of the configured dir
(dp, pp, cp and tp ranks). MLA ranks of one process share one store (tp
omitted from its name): rank 0 writes it and every rank reads it. An MLA
rank other than 0 in another process gets its own store, which it never
writes, so its reads miss (see README: the store is single-process).
"""

import os


def namespace_name(config, kv_dtype, layout, page_bytes, model_id=None):
    parts = ["sglang", f"model={config.model_name or ''}"]
    if model_id:
        parts.append(f"model_id={model_id}")
    if config.is_mla_model:
        parts.append("mla")
    else:
        parts.append(f"tp={config.tp_rank}/{config.tp_size}")
    parts.append(f"pp={config.pp_rank}/{config.pp_size}")
    parts.append(f"cp={getattr(config, 'attn_cp_rank', 0)}/{getattr(config, 'attn_cp_size', 1)}")
    parts.append(f"dtype={str(kv_dtype).removeprefix('torch.')}")
    parts.append(f"layout={layout}")
    parts.append(f"page_bytes={page_bytes}")
    return "|".join(parts)


def rank_dir(root, config, with_tp):
    """The store directory of this rank under root."""
    name = (f"dp{getattr(config, 'dp_rank', 0)}-pp{config.pp_rank}"
            f"-cp{getattr(config, 'attn_cp_rank', 0)}")
    if with_tp:
        name += f"-tp{config.tp_rank}"
    elif config.is_mla_model:
        name += "-mla"
    return os.path.join(root, name)


def page_key(key):
    """SGLang's page key (a 64-hex SHA-256 of the chain through the page) as
    the 32 bytes it encodes; None for anything else."""
    if not isinstance(key, str) or len(key) != 64:
        return None
    try:
        raw = bytes.fromhex(key)
    except ValueError:
        return None
    return raw if len(raw) == 32 else None  # fromhex skips spaces
