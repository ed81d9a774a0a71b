"""Evaluation metrics: saliency maps (MIT and Tübingen protocols) and latitude-weighted 360° panoramas.

See docs/anchors.md §2 (saliency) and §4 (Salient360!) for the definitions implemented here.
"""
from training.metrics.panorama import (compute_all_panorama, latitude_weights, weighted_cc, weighted_kld,
                                       weighted_sim)
from training.metrics.saliency import (METRICS, PROTOCOLS, auc_borji, auc_judd, cc, compute_all,
                                       fixation_pixels, information_gain, kld, map_metrics_continuous, nss,
                                       sauc, sim)

__all__ = ["METRICS", "PROTOCOLS", "auc_judd", "auc_borji", "sauc", "nss", "cc", "kld", "sim",
           "information_gain", "compute_all", "map_metrics_continuous", "fixation_pixels",
           "latitude_weights", "weighted_kld", "weighted_cc", "weighted_sim", "compute_all_panorama"]
