package jobs_test

import (
	"crypto/tls"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/tradewind/tradewind/jobs"
)

func TestParseRedisURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		want    asynq.RedisConnOpt
		wantErr bool
	}{
		{name: "one server", raw: "redis://:pw@10.0.0.1:6379/2", want: asynq.RedisClientOpt{Addr: "10.0.0.1:6379", Password: "pw", DB: 2}},
		{name: "one server with TLS", raw: "rediss://cache.example.com:6380/0",
			want: asynq.RedisClientOpt{Addr: "cache.example.com:6380", TLSConfig: &tls.Config{ServerName: "cache.example.com"}}},
		{name: "Sentinel", raw: "redis-sentinel://:pw@s1:26379,s2:26379,s3:26379/1?master=tradewind&sentinel_password=spw",
			want: asynq.RedisFailoverClientOpt{MasterName: "tradewind", SentinelAddrs: []string{"s1:26379", "s2:26379", "s3:26379"},
				Password: "pw", SentinelPassword: "spw", DB: 1}},
		{name: "Cluster", raw: "redis-cluster://:pw@n1:7000,n2:7001,n3:7002",
			want: asynq.RedisClusterClientOpt{Addrs: []string{"n1:7000", "n2:7001", "n3:7002"}, Password: "pw"}},
		{name: "Sentinel without its master's name", raw: "redis-sentinel://s1:26379,s2:26379", wantErr: true},
		{name: "Cluster with a database", raw: "redis-cluster://n1:7000/3", wantErr: true},
		{name: "several hosts for one server", raw: "redis://a:6379,b:6379/0", wantErr: true},
		{name: "a host without a port", raw: "redis-cluster://n1:7000,n2", wantErr: true},
		{name: "another scheme", raw: "http://127.0.0.1:6379", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jobs.ParseRedisURL(tt.raw)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseRedisURL(%q) = %#v, want an error", tt.raw, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b *tls.Config) bool {
				return (a == nil) == (b == nil) && (a == nil || a.ServerName == b.ServerName)
			})); diff != "" {
				t.Errorf("ParseRedisURL(%q) (-want +got):\n%s", tt.raw, diff)
			}
		})
	}
}
