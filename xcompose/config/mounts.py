"""A service's `volumes:` entries: the short syntax (`SOURCE:TARGET[:MODES]`) and the long
one, with the options of each mount type, as one model. Merging uses `volume_target` to
decide which entries are the same; the reference checks use `parse_volume` to find the
named volumes an entry uses."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from xcompose.config.options import parse_bytes

Propagation = Literal["shared", "rshared", "slave", "rslave", "private", "rprivate"]
_PROPAGATIONS: tuple[Propagation, ...] = ("shared", "rshared", "slave", "rslave", "private", "rprivate")
# Docker for Mac's consistency words: Docker on Linux accepts and ignores them, and so do we.
_CONSISTENCY = ("consistent", "cached", "delegated")


class BindOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    propagation: Propagation | None = None
    create_host_path: bool = Field(default=True, description="Create a missing host folder, as Compose does.")
    selinux: Literal["z", "Z"] | None = Field(default=None, description="Relabel: z shared, Z private.")


class VolumeOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    nocopy: bool = Field(default=False, description="Do not copy the image's files into a new volume.")


def _file_mode(value: Any) -> Any:
    """A mode written as text is octal (`"1777"`, `"0o1777"`); a YAML number is taken as is."""
    if isinstance(value, str):
        try:
            return int(value.removeprefix("0o"), 8)
        except ValueError:
            raise ValueError(f"'{value}' is not an octal file mode (use e.g. 1777)") from None
    return value


class TmpfsOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    size: Annotated[int, BeforeValidator(parse_bytes, json_schema_input_type=int | str)] | None = None
    mode: Annotated[int, BeforeValidator(_file_mode, json_schema_input_type=int | str)] | None = Field(
        default=None, ge=0, le=0o7777)


class VolumeMount(BaseModel):
    """`volumes:` entry of a service: `NAME:/path[:ro]`, `./dir:/path`, `/path` or long form."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["volume", "bind", "tmpfs"] = "volume"
    source: str | None = None
    target: str
    read_only: bool = False
    bind: BindOptions | None = None
    volume: VolumeOptions | None = None
    tmpfs: TmpfsOptions | None = None

    @model_validator(mode="after")
    def _options_fit_the_type(self) -> VolumeMount:
        if self.tmpfs is not None and self.type != "tmpfs":
            raise ValueError("`tmpfs` options apply to type: tmpfs only")
        if self.volume is not None and self.type != "volume":
            raise ValueError("`volume` options apply to type: volume only")
        if self.bind is not None:
            if self.type == "tmpfs":
                raise ValueError("`bind` options do not apply to type: tmpfs")
            if self.type == "volume" and (self.bind.propagation or not self.bind.create_host_path):
                raise ValueError("propagation and create_host_path apply to bind mounts only")
            if self.bind.selinux and not self.bind.create_host_path:
                raise ValueError("an SELinux relabel (selinux) needs create_host_path: true; Docker relabels "
                                 "only mounts made that way")
        if self.type == "tmpfs" and self.source is not None:
            raise ValueError("a tmpfs mount has no source")
        return self

    def modes(self) -> list[str]:
        """The short form's modes that stand for this mount's options."""
        words = ["ro"] if self.read_only else []
        if self.bind is not None:
            words += [w for w in (self.bind.selinux, self.bind.propagation) if w]
        if self.volume is not None and self.volume.nocopy:
            words.append("nocopy")
        return words

    def short(self) -> str | None:
        """The `SOURCE:TARGET[:MODES]` form when it reads back to the same mount, else None."""
        if self.type == "tmpfs" or self.source is None:
            return self.target if self == VolumeMount(target=self.target) else None
        modes = self.modes()
        text = f"{self.source}:{self.target}" + (f":{','.join(modes)}" if modes else "")
        try:
            return text if parse_volume(text) == self else None
        except ValueError:
            return None


_MODES_HELP = "use ro or rw, z or Z, a propagation such as rshared, or nocopy, separated by commas"


def _short_modes(text: str, mode: str, kind: Literal["bind", "volume"]) -> dict[str, Any]:
    """The long form's options for the modes of a short volume (`ro,Z`, `rshared`)."""
    found: dict[str, str] = {}
    for word in mode.split(","):
        group = ("access" if word in ("ro", "rw") else "selinux" if word in ("z", "Z")
                 else "propagation" if word in _PROPAGATIONS else "nocopy" if word == "nocopy"
                 else "consistency" if word in _CONSISTENCY else None)
        if group is None:
            raise ValueError(f"'{text}': unknown mode '{word}' ({_MODES_HELP})")
        if group in found:
            raise ValueError(f"'{text}': modes '{found[group]}' and '{word}' contradict each other")
        found[group] = word
    if kind == "volume" and "propagation" in found:
        raise ValueError(f"'{text}': propagation ({found['propagation']}) applies to bind mounts only")
    if kind == "bind" and "nocopy" in found:
        raise ValueError(f"'{text}': nocopy applies to named volumes only")
    options: dict[str, Any] = {"read_only": found.get("access") == "ro"}
    if "selinux" in found or "propagation" in found:
        options["bind"] = BindOptions.model_validate(
            {"selinux": found.get("selinux"), "propagation": found.get("propagation")})
    if "nocopy" in found:
        options["volume"] = VolumeOptions(nocopy=True)
    return options


def parse_volume(value: Any) -> VolumeMount:
    if isinstance(value, VolumeMount):
        return value
    if isinstance(value, dict):
        return VolumeMount.model_validate(value)
    text = str(value)
    parts = text.split(":")
    if len(parts) == 1:
        return VolumeMount(type="volume", source=None, target=parts[0])
    if len(parts) > 3:
        raise ValueError(f"'{text}' is not a volume (use SOURCE:TARGET[:MODES])")
    source, target = parts[0], parts[1]
    kind: Literal["bind", "volume"] = "bind" if source.startswith(("/", ".", "~")) else "volume"
    options = _short_modes(text, parts[2], kind) if len(parts) == 3 else {}
    return VolumeMount(type=kind, source=source, target=target, **options)


def volume_target(value: Any) -> Any:
    """What makes two `volumes:` entries the same when files merge: the container path."""
    try:
        return parse_volume(value).target
    except (ValueError, TypeError):
        return value  # reported by validation; merged as an opaque value meanwhile
