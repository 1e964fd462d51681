package jobs

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
)

// ParseRedisURL reads TRADEWIND_REDIS_URL into Asynq's connection options:
//
//	redis://[:password@]host:port/db and rediss:// (TLS)   one server
//	redis-socket://[:password@]/path/to/redis.sock?db=N   one server, on a Unix socket
//	redis-sentinel://[:password@]host:port[,host:port...]/db?master=name[&sentinel_password=p]
//	                                                       a primary found (and failed over) through Sentinel
//	redis-cluster://[:password@]host:port[,host:port...]   Redis Cluster (its seed nodes)
func ParseRedisURL(raw string) (asynq.RedisConnOpt, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	password, _ := u.User.Password()
	var addrs []string
	for _, a := range strings.Split(u.Host, ",") {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("%q is not host:port", a)
		}
		addrs = append(addrs, a)
	}
	db := 0
	if p := strings.Trim(u.Path, "/"); p != "" {
		if db, err = strconv.Atoi(p); err != nil {
			return nil, errors.New("the path must be a database number")
		}
	}
	switch u.Scheme {
	case "redis", "rediss":
		if len(addrs) != 1 {
			return nil, errors.New("one host:port (several are for redis-sentinel:// or redis-cluster://)")
		}
		return asynq.ParseRedisURI(raw)
	case "redis-socket":
		return asynq.ParseRedisURI(raw)
	case "redis-sentinel":
		master := u.Query().Get("master")
		if master == "" {
			return nil, errors.New("redis-sentinel:// needs ?master=<name of the monitored primary>")
		}
		return asynq.RedisFailoverClientOpt{MasterName: master, SentinelAddrs: addrs, Password: password,
			SentinelPassword: u.Query().Get("sentinel_password"), DB: db}, nil
	case "redis-cluster":
		if db != 0 {
			return nil, errors.New("Redis Cluster has database 0 only")
		}
		return asynq.RedisClusterClientOpt{Addrs: addrs, Password: password}, nil
	}
	return nil, fmt.Errorf("scheme %q is not one of redis, rediss, redis-socket, redis-sentinel, redis-cluster", u.Scheme)
}
