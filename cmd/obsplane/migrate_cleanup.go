package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/openchoreo/obsplane/internal/migrate"
	"github.com/openchoreo/obsplane/internal/migrate/cleanup"
)

// migrateCleanupCmd is `obsplane migrate cleanup`. Its flags carry the
// names the chart's cleanup Job passes (migration.cleanup.* and
// opensearch.* of values.yaml).
func migrateCleanupCmd() *cobra.Command {
	var common migrateCommon
	var o cleanup.Options
	var indices, kubeconfig string
	var k cleanup.Kube
	var pvcs, services, configmaps, secrets string
	cmd := withConfig(&cobra.Command{
		Use:   "cleanup --require-explicit-flag --confirmed",
		Short: "Once the migration has been Complete long enough: archive OpenChoreo's OpenSearch indices, verify the archive, delete exactly those indices and OpenSearch's Kubernetes objects",
		Long: `Refuses (exit 2, "refused: <reason>", nothing archived or deleted) unless
--require-explicit-flag and --confirmed are both set and the migration has been
Complete for at least --min-complete-age. With --archive-indices it snapshots the
indices --indices resolves to into the registered --snapshot-repository, requires
state SUCCESS with every shard successful, restores one index under another name
and compares its count, and only then deletes exactly the archived indices, one
exact name at a time. With --namespace it then deletes OpenSearch's StatefulSet,
PVCs, Services, ConfigMaps and Secrets by name (client-go; --kubeconfig or the
in-cluster account). --dry-run prints the plan and every guard's verdict and
changes nothing.`,
		Example: `  obsplane migrate cleanup --dry-run --require-explicit-flag --confirmed --snapshot-repository archive
  obsplane migrate cleanup --require-explicit-flag --confirmed --archive-indices --snapshot-repository archive \
      --namespace openchoreo-observability-plane --release observability-logs-opensearch`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, p := range strings.Split(indices, ",") {
				if p = strings.TrimSpace(p); p != "" {
					o.Indices = append(o.Indices, p)
				}
			}
			env, err := openMigrate(cmd, &common)
			if err != nil {
				return err
			}
			defer env.close()
			src, err := phaseSource(env, common.lockLease)
			if err != nil {
				return err
			}
			o.State = src
			if !o.DryRun && o.RequireExplicitFlag && o.Confirmed {
				// The migration lock, held for the whole cleanup: no
				// rollback (Complete -> DualWrite) can start while the
				// OpenSearch it would go back to is being removed.
				lk, err := migrate.AcquireLock(cmd.Context(), env.st, env.cfg.Database, "migration", common.lockLease)
				if err != nil {
					return err
				}
				defer lk.Release()
			}
			o.OpenSearch, o.Retry = env.osc, common.retry()
			o.Out, o.Log, o.Progress = cmd.OutOrStdout(), env.log, env.progress
			if k.Namespace != "" {
				kc, err := kubeClient(kubeconfig)
				if err != nil {
					return err
				}
				k.Client = kc
				k.PVCs, k.Services, k.ConfigMaps, k.Secrets = names(pvcs), names(services), names(configmaps), names(secrets)
				o.Kube = &k
			} else {
				env.log.Info("no --namespace: the Kubernetes objects are left alone")
			}
			_, err = cleanup.Run(cmd.Context(), o)
			env.progress.Close()
			return err
		},
	})
	common.register(cmd.Flags())
	f := cmd.Flags()
	f.BoolVar(&o.RequireExplicitFlag, "require-explicit-flag", false, "first of the two safety switches (migration.cleanup.requireExplicitFlag); without it the cleanup refuses")
	f.BoolVar(&o.Confirmed, "confirmed", false, "second safety switch (migration.cleanup.confirmed); without it the cleanup refuses")
	f.DurationVar(&o.MinCompleteAge, "min-complete-age", 168*time.Hour, "how long the migration must have been Complete")
	f.BoolVar(&o.DryRun, "dry-run", false, "print the plan and every guard's verdict; change nothing")
	f.BoolVar(&o.ArchiveIndices, "archive-indices", true, "snapshot and verify the indices before deleting them (migration.cleanup.archiveIndices)")
	f.StringVar(&o.Repository, "snapshot-repository", "obsplane-archive", "registered OpenSearch snapshot repository the archive goes to (never registered by the cleanup)")
	f.StringVar(&o.BackupLocation, "backup-location", "", "when set, the repository must store at this location: its fs location, or bucket/base_path (migration.cleanup.backupLocation)")
	f.StringVar(&o.SnapshotName, "snapshot-name", "", "name of the snapshot (default obsplane-cleanup-<UTC time>)")
	f.StringVar(&indices, "indices", strings.Join(cleanup.DefaultIndices, ","), "comma-separated index patterns to archive and delete (each starting with a literal character)")
	f.StringVar(&o.SampleIndex, "sample-index", "", "index restored under another name and counted (default: the newest non-empty one)")
	f.DurationVar(&o.SnapshotTimeout, "snapshot-timeout", 2*time.Hour, "how long to wait for the snapshot")
	f.DurationVar(&o.RestoreTimeout, "restore-timeout", 30*time.Minute, "how long to wait for the sample's restore")
	f.DurationVar(&o.DeleteTimeout, "delete-timeout", 5*time.Minute, "how long to wait for one index deletion")
	f.DurationVar(&o.PollInterval, "poll-interval", 2*time.Second, "time between two looks at a running snapshot or restore")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: the in-cluster account, else $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&k.Namespace, "namespace", "", "OpenSearch's namespace; empty leaves Kubernetes alone")
	f.StringVar(&k.Release, "release", "", "Helm release that installed OpenSearch; when set, the StatefulSet, Services and ConfigMaps must carry it or the cleanup refuses")
	f.StringVar(&k.StatefulSet, "statefulset", "opensearch-master", "OpenSearch's StatefulSet (opensearch.statefulSetName)")
	f.BoolVar(&k.DeleteStatefulSet, "delete-statefulset", true, "delete the StatefulSet (migration.cleanup.deleteStatefulSet)")
	f.StringVar(&pvcs, "pvcs", "", "PVCs to delete, comma-separated (default: the StatefulSet's own claims) (opensearch.pvcNames)")
	f.BoolVar(&k.DeletePVCs, "delete-pvcs", false, "delete the PVCs, and with them the data (migration.cleanup.deletePVCs)")
	f.StringVar(&services, "services", "opensearch,opensearch-master-headless", "Services to delete, comma-separated (opensearch.serviceNames)")
	f.BoolVar(&k.DeleteServices, "delete-services", true, "delete the Services (migration.cleanup.deleteServices)")
	f.StringVar(&configmaps, "configmaps", "", "ConfigMaps to delete, comma-separated (opensearch.configMapNames)")
	f.BoolVar(&k.DeleteConfigMaps, "delete-configmaps", true, "delete the ConfigMaps (migration.cleanup.deleteConfigMaps)")
	f.StringVar(&secrets, "secrets", "opensearch-admin-credentials", "Secrets to delete, comma-separated (opensearch.secretNames)")
	f.BoolVar(&k.DeleteSecrets, "delete-secrets", false, "delete the Secrets (migration.cleanup.deleteSecrets)")
	f.DurationVar(&k.Timeout, "kube-timeout", 10*time.Minute, "how long to wait for the StatefulSet and its pods to go")
	return cmd
}

func names(s string) []string {
	var out []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// kubeClient connects with path, else in the cluster, else with the
// default kubeconfig.
func kubeClient(path string) (kubernetes.Interface, error) {
	var cfg *rest.Config
	var err error
	if path == "" {
		cfg, err = rest.InClusterConfig()
	}
	if path != "" || errors.Is(err, rest.ErrNotInCluster) {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = path
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes: no configuration (--kubeconfig, in-cluster account, $KUBECONFIG): %w; leave --namespace empty to skip the Kubernetes part", err)
	}
	cfg.UserAgent = "obsplane-migrate-cleanup"
	return kubernetes.NewForConfig(cfg)
}
