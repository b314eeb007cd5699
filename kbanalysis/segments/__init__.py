"""Stage 3, segments: ABCDE within channels, potential clusters with names, the action matrix."""
from kbanalysis.segments.model import abcde_classes, abcde_matrix, pareto_by_class, profitability, has_sales, cluster_features, PotentialClusters, name_clusters, cluster_labels, prospects, segment_clients, load_actions, action_matrix, cluster_summary, FEATURES, ARCHETYPES, PROSPECT, NO_CLASS
from kbanalysis.segments import plots
__all__ = ['abcde_classes', 'abcde_matrix', 'pareto_by_class', 'profitability', 'has_sales', 'cluster_features', 'PotentialClusters', 'name_clusters', 'cluster_labels', 'prospects', 'segment_clients', 'load_actions', 'action_matrix', 'cluster_summary', 'FEATURES', 'ARCHETYPES', 'PROSPECT', 'NO_CLASS', 'plots']
